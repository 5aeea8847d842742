/* The gateway's SQLite database. See include/duckling/gwdb.h. */
#include <duckling/gwdb.h>
#include <duckling/err.h>
#include <duckling/mem.h>

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MOD "gwdb"

/* Migration N (1-based) is migrations[N-1]. Never edit a released entry:
 * append a new one, so every database walks the same path. */
static const char *const migrations[] = {
    /* 1: the first schema. */
    "CREATE TABLE oob ("
    "  endpoint TEXT PRIMARY KEY,"
    "  type TEXT NOT NULL,"
    "  channel TEXT NOT NULL,"
    "  ap_ssid TEXT NOT NULL DEFAULT '',"
    "  ap_psk BLOB,"
    "  cred_type INTEGER NOT NULL CHECK (cred_type BETWEEN 0 AND 3),"
    "  cred_value BLOB,"
    "  label_sha256 TEXT NOT NULL,"
    "  created INTEGER NOT NULL);"
    "CREATE TABLE bs_request ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  endpoint TEXT NOT NULL,"
    "  state TEXT NOT NULL CHECK (state IN ('pending','approved','denied','expired')),"
    "  label_match INTEGER NOT NULL,"
    "  peer_cred_type INTEGER NOT NULL,"
    "  peer TEXT NOT NULL DEFAULT '',"
    "  created INTEGER NOT NULL,"
    "  last_attempt INTEGER NOT NULL,"
    "  expires INTEGER NOT NULL,"
    "  decided INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX bs_request_ep ON bs_request (endpoint, id);"
    "CREATE INDEX bs_request_state ON bs_request (state, expires);"
    "CREATE TABLE device ("
    "  endpoint TEXT PRIMARY KEY,"
    "  state TEXT NOT NULL CHECK (state IN ('expected','pending','approved','bootstrapped',"
    "                                       'registered','offline','reset')),"
    "  type TEXT NOT NULL DEFAULT '',"
    "  last_seen INTEGER NOT NULL DEFAULT 0,"
    "  has_location INTEGER NOT NULL DEFAULT 0,"
    "  lat REAL NOT NULL DEFAULT 0,"
    "  lon REAL NOT NULL DEFAULT 0,"
    "  has_registration INTEGER NOT NULL DEFAULT 0,"
    "  reg_lifetime INTEGER NOT NULL DEFAULT 0,"
    "  reg_binding TEXT NOT NULL DEFAULT '',"
    "  reg_version TEXT NOT NULL DEFAULT '',"
    "  reg_links TEXT NOT NULL DEFAULT '',"
    "  reg_peer TEXT NOT NULL DEFAULT '',"
    "  reg_location TEXT NOT NULL DEFAULT '',"
    "  reg_time INTEGER NOT NULL DEFAULT 0,"
    "  created INTEGER NOT NULL,"
    "  updated INTEGER NOT NULL);"
    "CREATE TABLE credential ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  endpoint TEXT NOT NULL,"
    "  kind INTEGER NOT NULL CHECK (kind BETWEEN 1 AND 3),"
    "  psk_identity BLOB,"
    "  psk_key BLOB,"
    "  cert_der BLOB,"
    "  hash BLOB,"
    "  issued INTEGER NOT NULL,"
    "  revoked INTEGER NOT NULL DEFAULT 0,"
    "  revoked_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE UNIQUE INDEX credential_psk_identity ON credential (psk_identity)"
    "  WHERE psk_identity IS NOT NULL;"
    "CREATE UNIQUE INDEX credential_hash ON credential (hash) WHERE hash IS NOT NULL;"
    "CREATE INDEX credential_endpoint ON credential (endpoint, revoked);"
    "CREATE TABLE value ("
    "  endpoint TEXT NOT NULL,"
    "  path TEXT NOT NULL,"
    "  content_format INTEGER NOT NULL,"
    "  value TEXT NOT NULL,"
    "  time INTEGER NOT NULL,"
    "  PRIMARY KEY (endpoint, path));"
    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  time INTEGER NOT NULL,"
    "  endpoint TEXT NOT NULL DEFAULT '',"
    "  event TEXT NOT NULL,"
    "  detail TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX audit_endpoint ON audit (endpoint, id);",
};
_Static_assert(sizeof migrations / sizeof migrations[0] == DK_GWDB_SCHEMA_VERSION,
               "DK_GWDB_SCHEMA_VERSION must equal the number of migrations");

enum stmt_id {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_OOB_ADD,
    S_OOB_FIND,
    S_OOB_DELETE,
    S_OOB_LIST,
    S_REQ_FIND_PENDING,
    S_REQ_REFRESH,
    S_REQ_COUNT_PENDING,
    S_REQ_INSERT,
    S_REQ_LATEST,
    S_REQ_REFUSED,
    S_REQ_LIST_PENDING,
    S_REQ_DECIDE,
    S_REQ_LIST_DUE,
    S_DEV_ENSURE,
    S_DEV_SET_STATE,
    S_DEV_UPSERT,
    S_DEV_SET_REG,
    S_DEV_SET_LOC,
    S_DEV_TOUCH,
    S_DEV_GET,
    S_DEV_LIST,
    S_DEV_DELETE,
    S_VAL_DELETE_EP,
    S_CRED_REVOKE,
    S_CRED_INSERT,
    S_CRED_FIND_PSK,
    S_CRED_FIND_HASH,
    S_CRED_ACTIVE,
    S_VAL_PUT,
    S_VAL_LIST,
    S_AUDIT_ADD,
    S_AUDIT_LIST,
    S_AUDIT_LIST_EP,
    S_AUDIT_PRUNE,
    S_COUNT
};
_Static_assert(S_COUNT <= DK_GWDB_NSTMT, "raise DK_GWDB_NSTMT");

#define REQ_COLS                                                                                   \
    "id, endpoint, state, label_match, peer_cred_type, peer, created, "                            \
    "last_attempt, expires, decided"
#define DEV_COLS                                                                                   \
    "endpoint, state, type, last_seen, has_location, lat, lon, has_registration, "                 \
    "reg_lifetime, reg_binding, reg_version, reg_links, reg_peer, reg_location, "                  \
    "reg_time, created, updated"
#define CRED_COLS                                                                                  \
    "id, endpoint, kind, psk_identity, psk_key, cert_der, hash, issued, revoked, "                 \
    "revoked_at"
#define OOB_COLS                                                                                   \
    "endpoint, type, channel, ap_ssid, ap_psk, cred_type, cred_value, "                            \
    "label_sha256, created"

static const char *const stmt_sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_OOB_ADD] = "INSERT INTO oob (" OOB_COLS ") VALUES (?,?,?,?,?,?,?,?,?)",
    [S_OOB_FIND] = "SELECT " OOB_COLS " FROM oob WHERE endpoint = ?",
    [S_OOB_DELETE] = "DELETE FROM oob WHERE endpoint = ?",
    [S_OOB_LIST] = "SELECT " OOB_COLS " FROM oob ORDER BY created, endpoint",
    [S_REQ_FIND_PENDING] = "SELECT id, expires FROM bs_request WHERE endpoint = ? AND "
                           "state = 'pending' ORDER BY id DESC LIMIT 1",
    [S_REQ_REFRESH] = "UPDATE bs_request SET last_attempt = ?, label_match = ?, "
                      "peer_cred_type = ?, peer = ? WHERE id = ?",
    [S_REQ_COUNT_PENDING] = "SELECT count(*) FROM bs_request WHERE state = 'pending' AND "
                            "expires > ?",
    [S_REQ_INSERT] = "INSERT INTO bs_request (endpoint, state, label_match, peer_cred_type, "
                     "peer, created, last_attempt, expires) VALUES (?,'pending',?,?,?,?,?,?)",
    [S_REQ_LATEST] = "SELECT " REQ_COLS " FROM bs_request WHERE endpoint = ? AND "
                     "label_match = 1 ORDER BY id DESC LIMIT 1",
    [S_REQ_REFUSED] = "INSERT INTO bs_request (endpoint, state, label_match, peer_cred_type, "
                      "peer, created, last_attempt, expires, decided) "
                      "VALUES (?,'denied',0,?,?,?,?,?,?)",
    [S_REQ_LIST_PENDING] = "SELECT " REQ_COLS " FROM bs_request WHERE state = 'pending' AND "
                           "expires > ? ORDER BY id",
    [S_REQ_DECIDE] = "UPDATE bs_request SET state = ?, decided = ? WHERE id = ?",
    [S_REQ_LIST_DUE] = "SELECT " REQ_COLS " FROM bs_request WHERE state = 'pending' AND "
                       "expires <= ? ORDER BY id",
    [S_DEV_ENSURE] = "INSERT OR IGNORE INTO device (endpoint, state, created, updated) "
                     "VALUES (?, 'expected', ?, ?)",
    [S_DEV_SET_STATE] = "UPDATE device SET state = ?, updated = ? WHERE endpoint = ?",
    [S_DEV_UPSERT] =
        "INSERT INTO device (" DEV_COLS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
        "ON CONFLICT (endpoint) DO UPDATE SET state = excluded.state, type = excluded.type, "
        "last_seen = excluded.last_seen, has_location = excluded.has_location, "
        "lat = excluded.lat, lon = excluded.lon, has_registration = excluded.has_registration, "
        "reg_lifetime = excluded.reg_lifetime, reg_binding = excluded.reg_binding, "
        "reg_version = excluded.reg_version, reg_links = excluded.reg_links, "
        "reg_peer = excluded.reg_peer, reg_location = excluded.reg_location, "
        "reg_time = excluded.reg_time, updated = excluded.updated",
    [S_DEV_SET_REG] = "UPDATE device SET state = 'registered', has_registration = 1, "
                      "reg_lifetime = ?, reg_binding = ?, reg_version = ?, reg_links = ?, "
                      "reg_peer = ?, reg_location = ?, reg_time = ?, last_seen = ?, updated = ? "
                      "WHERE endpoint = ?",
    [S_DEV_SET_LOC] = "UPDATE device SET has_location = 1, lat = ?, lon = ?, updated = ? "
                      "WHERE endpoint = ?",
    [S_DEV_TOUCH] = "UPDATE device SET last_seen = ? WHERE endpoint = ?",
    [S_DEV_GET] = "SELECT " DEV_COLS " FROM device WHERE endpoint = ?",
    [S_DEV_LIST] = "SELECT " DEV_COLS " FROM device ORDER BY endpoint",
    [S_DEV_DELETE] = "DELETE FROM device WHERE endpoint = ?",
    [S_VAL_DELETE_EP] = "DELETE FROM value WHERE endpoint = ?",
    [S_CRED_REVOKE] = "UPDATE credential SET revoked = 1, revoked_at = ? WHERE endpoint = ? "
                      "AND revoked = 0",
    [S_CRED_INSERT] = "INSERT INTO credential (endpoint, kind, psk_identity, psk_key, cert_der, "
                      "hash, issued) VALUES (?,?,?,?,?,?,?)",
    [S_CRED_FIND_PSK] = "SELECT " CRED_COLS " FROM credential WHERE psk_identity = ?",
    [S_CRED_FIND_HASH] = "SELECT " CRED_COLS " FROM credential WHERE hash = ?",
    [S_CRED_ACTIVE] = "SELECT " CRED_COLS " FROM credential WHERE endpoint = ? AND revoked = 0 "
                      "ORDER BY id DESC LIMIT 1",
    [S_VAL_PUT] = "INSERT INTO value (endpoint, path, content_format, value, time) "
                  "VALUES (?,?,?,?,?) ON CONFLICT (endpoint, path) DO UPDATE SET "
                  "content_format = excluded.content_format, value = excluded.value, "
                  "time = excluded.time",
    [S_VAL_LIST] = "SELECT endpoint, path, content_format, value, time FROM value "
                   "WHERE endpoint = ? ORDER BY path",
    [S_AUDIT_ADD] = "INSERT INTO audit (time, endpoint, event, detail) VALUES (?,?,?,?)",
    [S_AUDIT_LIST] = "SELECT id, time, endpoint, event, detail FROM audit WHERE id < ? "
                     "ORDER BY id DESC LIMIT ?",
    [S_AUDIT_LIST_EP] = "SELECT id, time, endpoint, event, detail FROM audit WHERE id < ? "
                        "AND endpoint = ? ORDER BY id DESC LIMIT ?",
    [S_AUDIT_PRUNE] = "DELETE FROM audit WHERE id <= (SELECT id FROM audit ORDER BY id DESC "
                      "LIMIT 1 OFFSET ?)",
};

/* ---- names --------------------------------------------------------------- */

static const char *const cred_names[] = {"none", "psk", "rpk", "x509"};
static const char *const req_names[] = {"pending", "approved", "denied", "expired"};
static const char *const dev_names[] = {"expected",   "pending", "approved", "bootstrapped",
                                        "registered", "offline", "reset"};

const char *dk_gw_cred_type_name(int t)
{
    return t >= 0 && t <= 3 ? cred_names[t] : "?";
}

const char *dk_gw_req_state_name(enum dk_gw_req_state s)
{
    return (unsigned)s < 4 ? req_names[s] : "?";
}

const char *dk_gw_dev_state_name(enum dk_gw_dev_state s)
{
    return (unsigned)s < 7 ? dev_names[s] : "?";
}

int dk_gw_dev_state_parse(const char *s, enum dk_gw_dev_state *out)
{
    for (int i = 0; i < 7; i++) {
        if (strcmp(s, dev_names[i]) == 0) {
            *out = (enum dk_gw_dev_state)i;
            return 0;
        }
    }
    return DK_EINVAL;
}

static int req_state_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, req_names[i]) == 0)
            return i;
    return DK_GW_REQ_PENDING;
}

/* ---- plumbing ------------------------------------------------------------ */

static int map_rc(struct dk_gwdb *db, int rc, const char *what)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return 0;
    case SQLITE_CONSTRAINT:
        return DK_EEXIST;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        dk_error(db->log, MOD, "%s: %s", what,
                 db->db ? sqlite3_errmsg(db->db) : sqlite3_errstr(rc));
        return DK_ECORRUPT;
    case SQLITE_NOMEM:
        return DK_ENOMEM;
    default:
        dk_error(db->log, MOD, "%s: %s", what,
                 db->db ? sqlite3_errmsg(db->db) : sqlite3_errstr(rc));
        return DK_EIO;
    }
}

static sqlite3_stmt *prep(struct dk_gwdb *db, enum stmt_id id)
{
    if (!db->st[id]) {
        int rc = sqlite3_prepare_v3(db->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                    &db->st[id], NULL);
        if (rc != SQLITE_OK) {
            map_rc(db, rc, "prepare");
            db->st[id] = NULL;
        }
    }
    return db->st[id];
}

/* Resets a statement and forgets its bindings, which may be secrets. */
static void finish(sqlite3_stmt *st)
{
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

/* Runs a statement expected to produce no rows. */
static int run(struct dk_gwdb *db, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    int err = rc == SQLITE_DONE ? 0 : map_rc(db, rc, what);
    finish(st);
    return err;
}

static int exec_simple(struct dk_gwdb *db, enum stmt_id id)
{
    sqlite3_stmt *st = prep(db, id);
    return st ? run(db, st, stmt_sql[id]) : DK_EIO;
}

static int begin(struct dk_gwdb *db)
{
    return exec_simple(db, S_BEGIN);
}

static int end(struct dk_gwdb *db, int err)
{
    if (err) {
        exec_simple(db, S_ROLLBACK);
        return err;
    }
    return exec_simple(db, S_COMMIT);
}

static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
    return sqlite3_bind_text(st, i, s ? s : "", -1, SQLITE_TRANSIENT);
}

static int bind_blob_or_null(sqlite3_stmt *st, int i, const void *p, size_t n)
{
    if (!n)
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_blob(st, i, p, (int)n, SQLITE_TRANSIENT);
}

static void col_text(sqlite3_stmt *st, int i, char *out, size_t cap)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    snprintf(out, cap, "%s", s ? (const char *)s : "");
}

static size_t col_blob(sqlite3_stmt *st, int i, void *out, size_t cap)
{
    const void *p = sqlite3_column_blob(st, i);
    size_t n = (size_t)sqlite3_column_bytes(st, i);
    if (!p || n > cap)
        return 0;
    memcpy(out, p, n);
    return n;
}

static bool too_long(const char *s, size_t max)
{
    return !s || strnlen(s, max + 1) > max;
}

static bool bad_ep(const char *ep)
{
    return too_long(ep, DK_GW_EP_MAX) || !ep[0];
}

/* ---- open / close ---------------------------------------------------------- */

void dk_gwdb_init(struct dk_gwdb *db)
{
    memset(db, 0, sizeof *db);
}

/* Creates the file ourselves so it never exists with a wider mode, even for
 * an instant; SQLite gives its -wal and -shm files the same mode. */
static int create_private_file(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return DK_EIO;
    int rc = fchmod(fd, 0600);
    close(fd);
    return rc == 0 ? 0 : DK_EIO;
}

static int pragma(struct dk_gwdb *db, const char *sql, const char *expect)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return map_rc(db, rc, sql);
    rc = sqlite3_step(st);
    int err = 0;
    if (rc == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(st, 0);
        if (expect && (!v || sqlite3_stricmp((const char *)v, expect) != 0)) {
            dk_error(db->log, MOD, "%s: got %s", sql, v ? (const char *)v : "nothing");
            err = strcmp(expect, "ok") == 0 ? DK_ECORRUPT : DK_EIO;
        }
    } else if (rc != SQLITE_DONE) {
        err = map_rc(db, rc, sql);
    }
    sqlite3_finalize(st);
    return err;
}

static int current_version(struct dk_gwdb *db, int *version)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db->db, "SELECT coalesce(max(version), 0) FROM schema_migrations",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return map_rc(db, rc, "schema version");
    rc = sqlite3_step(st);
    int err = rc == SQLITE_ROW ? 0 : map_rc(db, rc, "schema version");
    *version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    return err;
}

static int apply_migration(struct dk_gwdb *db, int version)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db->db, migrations[version - 1], NULL, NULL, &msg);
    if (rc == SQLITE_OK) {
        char sql[128];
        snprintf(sql, sizeof sql,
                 "INSERT INTO schema_migrations (version, applied) VALUES (%d, strftime('%%s'))",
                 version);
        rc = sqlite3_exec(db->db, sql, NULL, NULL, &msg);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db->db, "COMMIT", NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        dk_error(db->log, MOD, "migration %d: %s", version, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
        return DK_EIO;
    }
    dk_info(db->log, MOD, "schema migrated to version %d", version);
    return 0;
}

static int migrate(struct dk_gwdb *db)
{
    int rc = sqlite3_exec(db->db,
                          "CREATE TABLE IF NOT EXISTS schema_migrations ("
                          " version INTEGER PRIMARY KEY, applied INTEGER NOT NULL)",
                          NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return map_rc(db, rc, "schema_migrations");
    int version = 0;
    int err = current_version(db, &version);
    if (err)
        return err;
    if (version > DK_GWDB_SCHEMA_VERSION) {
        dk_error(db->log, MOD, "database schema version %d is newer than this build's %d", version,
                 DK_GWDB_SCHEMA_VERSION);
        return DK_EVERSION;
    }
    for (int v = version + 1; v <= DK_GWDB_SCHEMA_VERSION && !err; v++)
        err = apply_migration(db, v);
    if (!err)
        db->schema_version = DK_GWDB_SCHEMA_VERSION;
    return err;
}

int dk_gwdb_open(struct dk_gwdb *db, const char *path, const struct dk_log *log)
{
    dk_gwdb_init(db);
    db->log = log;
    if (create_private_file(path) != 0) {
        dk_error(log, MOD, "%s: %s", path, strerror(errno));
        return DK_EIO;
    }
    int rc = sqlite3_open_v2(path, &db->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        int err = map_rc(db, rc, path);
        dk_gwdb_close(db);
        return err ? err : DK_EIO;
    }
    sqlite3_busy_timeout(db->db, 2000);
    sqlite3_extended_result_codes(db->db, 1);
    int err = pragma(db, "PRAGMA quick_check", "ok");
    if (!err)
        err = pragma(db, "PRAGMA journal_mode = WAL", "wal");
    /* Approvals and issued keys must survive a power cut once acknowledged;
     * deleted secrets are overwritten, not left in free pages. */
    if (!err)
        err = pragma(db, "PRAGMA synchronous = FULL", NULL);
    if (!err)
        err = pragma(db, "PRAGMA secure_delete = ON", NULL);
    if (!err)
        err = pragma(db, "PRAGMA foreign_keys = ON", NULL);
    if (!err)
        err = migrate(db);
    if (err)
        dk_gwdb_close(db);
    return err;
}

void dk_gwdb_close(struct dk_gwdb *db)
{
    for (size_t i = 0; i < DK_GWDB_NSTMT; i++) {
        if (db->st[i])
            sqlite3_finalize(db->st[i]);
        db->st[i] = NULL;
    }
    if (db->db)
        sqlite3_close(db->db);
    db->db = NULL;
}

/* ---- OOB records ------------------------------------------------------------ */

static void read_oob(sqlite3_stmt *st, struct dk_gw_oob *o)
{
    memset(o, 0, sizeof *o);
    col_text(st, 0, o->endpoint, sizeof o->endpoint);
    col_text(st, 1, o->type, sizeof o->type);
    col_text(st, 2, o->channel, sizeof o->channel);
    col_text(st, 3, o->ap_ssid, sizeof o->ap_ssid);
    o->ap_psk_len = col_blob(st, 4, o->ap_psk, sizeof o->ap_psk);
    o->cred_type = sqlite3_column_int(st, 5);
    o->cred_len = col_blob(st, 6, o->cred, sizeof o->cred);
    col_text(st, 7, o->label_sha256, sizeof o->label_sha256);
    o->created = sqlite3_column_int64(st, 8);
}

int dk_gwdb_add_oob(struct dk_gwdb *db, const struct dk_gw_oob *r)
{
    if (bad_ep(r->endpoint) || too_long(r->type, DK_GW_TYPE_MAX) ||
        too_long(r->channel, sizeof r->channel - 1) || too_long(r->ap_ssid, DK_GW_SSID_MAX) ||
        r->ap_psk_len > DK_GW_SECRET_MAX || r->cred_len > DK_GW_SECRET_MAX || r->cred_type < 0 ||
        r->cred_type > 3)
        return DK_EINVAL;
    sqlite3_stmt *st = prep(db, S_OOB_ADD);
    if (!st)
        return DK_EIO;
    bind_text(st, 1, r->endpoint);
    bind_text(st, 2, r->type);
    bind_text(st, 3, r->channel);
    bind_text(st, 4, r->ap_ssid);
    bind_blob_or_null(st, 5, r->ap_psk, r->ap_psk_len);
    sqlite3_bind_int(st, 6, r->cred_type);
    bind_blob_or_null(st, 7, r->cred, r->cred_len);
    bind_text(st, 8, r->label_sha256);
    sqlite3_bind_int64(st, 9, r->created);
    return run(db, st, "add oob");
}

int dk_gwdb_find_oob(struct dk_gwdb *db, const char *ep, struct dk_gw_oob *out)
{
    if (bad_ep(ep))
        return DK_EINVAL;
    sqlite3_stmt *st = prep(db, S_OOB_FIND);
    if (!st)
        return DK_EIO;
    bind_text(st, 1, ep);
    int rc = sqlite3_step(st);
    int err = 0;
    if (rc == SQLITE_ROW)
        read_oob(st, out);
    else
        err = rc == SQLITE_DONE ? DK_ENOTFOUND : map_rc(db, rc, "find oob");
    finish(st);
    return err;
}

static int delete_by_ep(struct dk_gwdb *db, enum stmt_id id, const char *ep, bool need_row)
{
    if (bad_ep(ep))
        return DK_EINVAL;
    sqlite3_stmt *st = prep(db, id);
    if (!st)
        return DK_EIO;
    bind_text(st, 1, ep);
    int err = run(db, st, stmt_sql[id]);
    if (!err && need_row && sqlite3_changes(db->db) == 0)
        err = DK_ENOTFOUND;
    return err;
}

int dk_gwdb_delete_oob(struct dk_gwdb *db, const char *ep)
{
    return delete_by_ep(db, S_OOB_DELETE, ep, true);
}

int dk_gwdb_list_oob(struct dk_gwdb *db, dk_gwdb_oob_fn *fn, void *user)
{
    sqlite3_stmt *st = prep(db, S_OOB_LIST);
    if (!st)
        return DK_EIO;
    struct dk_gw_oob o;
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        read_oob(st, &o);
        ret = fn(user, &o);
        dk_memzero(&o, sizeof o);
        if (ret)
            break;
    }
    if (!ret && rc != SQLITE_DONE)
        ret = map_rc(db, rc, "list oob");
    finish(st);
    return ret;
}

/* ---- bootstrap requests ------------------------------------------------------ */

static void read_req(sqlite3_stmt *st, struct dk_gw_request *r)
{
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    col_text(st, 1, r->endpoint, sizeof r->endpoint);
    const unsigned char *s = sqlite3_column_text(st, 2);
    r->state = (enum dk_gw_req_state)req_state_parse(s ? (const char *)s : "");
    r->label_match = sqlite3_column_int(st, 3) != 0;
    r->peer_cred_type = sqlite3_column_int(st, 4);
    col_text(st, 5, r->peer, sizeof r->peer);
    r->created = sqlite3_column_int64(st, 6);
    r->last_attempt = sqlite3_column_int64(st, 7);
    r->expires = sqlite3_column_int64(st, 8);
    r->decided = sqlite3_column_int64(st, 9);
}

static int ensure_device(struct dk_gwdb *db, const char *ep, int64_t now)
{
    sqlite3_stmt *st = prep(db, S_DEV_ENSURE);
    if (!st)
        return DK_EIO;
    bind_text(st, 1, ep);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, now);
    return run(db, st, "ensure device");
}

static int set_state(struct dk_gwdb *db, const char *ep, enum dk_gw_dev_state state, int64_t now)
{
    int err = ensure_device(db, ep, now);
    if (err)
        return err;
    sqlite3_stmt *st = prep(db, S_DEV_SET_STATE);
    if (!st)
        return DK_EIO;
    bind_text(st, 1, dk_gw_dev_state_name(state));
    sqlite3_bind_int64(st, 2, now);
    bind_text(st, 3, ep);
    return run(db, st, "set device state");
}

/* ep's newest pending request: *id and *expires, or DK_ENOTFOUND. */
static int find_pending(struct dk_gwdb *db, const char *ep, int64_t *id, int64_t *expires)
{
    sqlite3_stmt *st = prep(db, S_REQ_FIND_PENDING);
    if (!st)
        return DK_EIO;
    bind_text(st, 1, ep);
    int rc = sqlite3_step(st);
    int err = 0;
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        *expires = sqlite3_column_int64(st, 1);
    } else {
        err = rc == SQLITE_DONE ? DK_ENOTFOUND : map_rc(db, rc, "find pending");
    }
    finish(st);
    return err;
}

static int decide(struct dk_gwdb *db, int64_t id, enum dk_gw_req_state state, int64_t now)
{
    sqlite3_stmt *st = prep(db, S_REQ_DECIDE);
    if (!st)
        return DK_EIO;
    bind_text(st, 1, dk_gw_req_state_name(state));
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, id);
    return run(db, st, "decide request");
}

static int count_pending(struct dk_gwdb *db, int64_t now, size_t *n)
{
    sqlite3_stmt *st = prep(db, S_REQ_COUNT_PENDING);
    if (!st)
        return DK_EIO;
    sqlite3_bind_int64(st, 1, now);
    int rc = sqlite3_step(st);
    int err = rc == SQLITE_ROW ? 0 : map_rc(db, rc, "count pending");
    *n = rc == SQLITE_ROW ? (size_t)sqlite3_column_int64(st, 0) : 0;
    finish(st);
    return err;
}

static int attempt_locked(struct dk_gwdb *db, const char *ep, bool label_match, int peer_cred_type,
                          const char *peer, int64_t now, int64_t ttl, size_t max_pending,
                          int64_t *id)
{
    int64_t rid = 0, expires = 0;
    int err = find_pending(db, ep, &rid, &expires);
    if (!err && expires <= now) {
        /* A device retrying after its request expired starts a new one. */
        err = decide(db, rid, DK_GW_REQ_EXPIRED, now);
        if (err)
            return err;
        err = DK_ENOTFOUND;
    }
    if (!err) {
        sqlite3_stmt *st = prep(db, S_REQ_REFRESH);
        if (!st)
            return DK_EIO;
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_int(st, 2, label_match);
        sqlite3_bind_int(st, 3, peer_cred_type);
        bind_text(st, 4, peer);
        sqlite3_bind_int64(st, 5, rid);
        err = run(db, st, "refresh request");
    } else if (err == DK_ENOTFOUND) {
        size_t n = 0;
        err = count_pending(db, now, &n);
        if (!err && max_pending && n >= max_pending)
            return DK_ELIMIT;
        sqlite3_stmt *st = err ? NULL : prep(db, S_REQ_INSERT);
        if (!err && !st)
            err = DK_EIO;
        if (err)
            return err;
        bind_text(st, 1, ep);
        sqlite3_bind_int(st, 2, label_match);
        sqlite3_bind_int(st, 3, peer_cred_type);
        bind_text(st, 4, peer);
        sqlite3_bind_int64(st, 5, now);
        sqlite3_bind_int64(st, 6, now);
        sqlite3_bind_int64(st, 7, now + ttl);
        err = run(db, st, "insert request");
        rid = sqlite3_last_insert_rowid(db->db);
    }
    if (!err)
        err = set_state(db, ep, DK_GW_DEV_PENDING, now);
    if (!err && id)
        *id = rid;
    return err;
}

int dk_gwdb_request_attempt(struct dk_gwdb *db, const char *ep, bool label_match,
                            int peer_cred_type, const char *peer, int64_t now, int64_t ttl,
                            size_t max_pending, int64_t *id)
{
    if (bad_ep(ep) || too_long(peer ? peer : "", DK_GW_PEER_MAX) || ttl < 0)
        return DK_EINVAL;
    int err = begin(db);
    if (err)
        return err;
    return end(
        db, attempt_locked(db, ep, label_match, peer_cred_type, peer, now, ttl, max_pending, id));
}

int dk_gwdb_request_refused(struct dk_gwdb *db, const char *ep, int peer_cred_type,
                            const char *peer, int64_t now, int64_t *id)
{
    if (bad_ep(ep) || too_long(peer ? peer : "", DK_GW_PEER_MAX))
        return DK_EINVAL;
    sqlite3_stmt *st = prep(db, S_REQ_REFUSED);
    if (!st)
        return DK_EIO;
    bind_text(st, 1, ep);
    sqlite3_bind_int(st, 2, peer_cred_type);
    bind_text(st, 3, peer);
    for (int i = 4; i <= 7; i++)
        sqlite3_bind_int64(st, i, now);
    int err = run(db, st, "refused request");
    if (!err && id)
        *id = sqlite3_last_insert_rowid(db->db);
    return err;
}

int dk_gwdb_request_latest(struct dk_gwdb *db, const char *ep, struct dk_gw_request *out)
{
    if (bad_ep(ep))
        return DK_EINVAL;
    sqlite3_stmt *st = prep(db, S_REQ_LATEST);
    if (!st)
        return DK_EIO;
    bind_text(st, 1, ep);
    int rc = sqlite3_step(st);
    int err = 0;
    if (rc == SQLITE_ROW)
        read_req(st, out);
    else
        err = rc == SQLITE_DONE ? DK_ENOTFOUND : map_rc(db, rc, "latest request");
    finish(st);
    return err;
}

static int walk_requests(struct dk_gwdb *db, enum stmt_id id, int64_t now, dk_gwdb_request_fn *fn,
                         void *user, int *count)
{
    sqlite3_stmt *st = prep(db, id);
    if (!st)
        return DK_EIO;
    sqlite3_bind_int64(st, 1, now);
    struct dk_gw_request r;
    int rc, ret = 0;
    *count = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        read_req(st, &r);
        (*count)++;
        ret = fn ? fn(user, &r) : 0;
        if (ret)
            break;
    }
    if (!ret && rc != SQLITE_DONE)
        ret = map_rc(db, rc, "list requests");
    finish(st);
    return ret;
}

int dk_gwdb_list_pending(struct dk_gwdb *db, int64_t now, dk_gwdb_request_fn *fn, void *user)
{
    int n;
    return walk_requests(db, S_REQ_LIST_PENDING, now, fn, user, &n);
}

static int decide_ep(struct dk_gwdb *db, const char *ep, enum dk_gw_req_state state, int64_t now)
{
    if (bad_ep(ep))
        return DK_EINVAL;
    int err = begin(db);
    if (err)
        return err;
    int64_t id, expires;
    err = find_pending(db, ep, &id, &expires);
    if (!err && expires <= now && state != DK_GW_REQ_EXPIRED) {
        /* Too late: the request expired before the decision. */
        err = decide(db, id, DK_GW_REQ_EXPIRED, now);
        if (!err)
            err = set_state(db, ep, DK_GW_DEV_EXPECTED, now);
        int e = end(db, err);
        return e ? e : DK_ENOTFOUND;
    }
    if (!err)
        err = decide(db, id, state, now);
    if (!err)
        err = set_state(db, ep,
                        state == DK_GW_REQ_APPROVED ? DK_GW_DEV_APPROVED : DK_GW_DEV_EXPECTED, now);
    return end(db, err);
}

int dk_gwdb_approve(struct dk_gwdb *db, const char *ep, int64_t now)
{
    return decide_ep(db, ep, DK_GW_REQ_APPROVED, now);
}

int dk_gwdb_deny(struct dk_gwdb *db, const char *ep, int64_t now)
{
    return decide_ep(db, ep, DK_GW_REQ_DENIED, now);
}

int dk_gwdb_expire(struct dk_gwdb *db, const char *ep, int64_t now)
{
    return decide_ep(db, ep, DK_GW_REQ_EXPIRED, now);
}

struct due_ctx {
    dk_gwdb_request_fn *fn;
    void *user;
    struct dk_gw_request *list;
    size_t n, cap;
};

static int collect_due(void *user, const struct dk_gw_request *r)
{
    struct due_ctx *c = user;
    if (c->n == c->cap)
        return 1; /* handled in batches */
    c->list[c->n++] = *r;
    return 0;
}

int dk_gwdb_expire_due(struct dk_gwdb *db, int64_t now, dk_gwdb_request_fn *fn, void *user)
{
    struct dk_gw_request batch[16];
    int total = 0;
    for (;;) {
        struct due_ctx c = {fn, user, batch, 0, sizeof batch / sizeof batch[0]};
        int n;
        int err = walk_requests(db, S_REQ_LIST_DUE, now, collect_due, &c, &n);
        if (err < 0)
            return err;
        if (c.n == 0)
            return total;
        for (size_t i = 0; i < c.n; i++) {
            if (fn && fn(user, &batch[i]))
                return total;
            err = begin(db);
            if (!err) {
                err = decide(db, batch[i].id, DK_GW_REQ_EXPIRED, now);
                if (!err)
                    err = set_state(db, batch[i].endpoint, DK_GW_DEV_EXPECTED, now);
                err = end(db, err);
            }
            if (err)
                return err;
            total++;
        }
    }
}

/* ---- devices ------------------------------------------------------------------ */

static void read_device(sqlite3_stmt *st, struct dk_gw_device *d)
{
    memset(d, 0, sizeof *d);
    col_text(st, 0, d->endpoint, sizeof d->endpoint);
    const unsigned char *s = sqlite3_column_text(st, 1);
    if (dk_gw_dev_state_parse(s ? (const char *)s : "", &d->state) != 0)
        d->state = DK_GW_DEV_EXPECTED;
    col_text(st, 2, d->type, sizeof d->type);
    d->last_seen = sqlite3_column_int64(st, 3);
    d->has_location = sqlite3_column_int(st, 4) != 0;
    d->lat = sqlite3_column_double(st, 5);
    d->lon = sqlite3_column_double(st, 6);
    d->has_registration = sqlite3_column_int(st, 7) != 0;
    d->reg.lifetime = sqlite3_column_int64(st, 8);
    col_text(st, 9, d->reg.binding, sizeof d->reg.binding);
    col_text(st, 10, d->reg.version, sizeof d->reg.version);
    col_text(st, 11, d->reg.links, sizeof d->reg.links);
    col_text(st, 12, d->reg.peer, sizeof d->reg.peer);
    col_text(st, 13, d->reg.location, sizeof d->reg.location);
    d->reg.registered = sqlite3_column_int64(st, 14);
    d->created = sqlite3_column_int64(st, 15);
    d->updated = sqlite3_column_int64(st, 16);
}

static bool bad_reg(const struct dk_gw_registration *r)
{
    return too_long(r->binding, sizeof r->binding - 1) ||
           too_long(r->version, sizeof r->version - 1) || too_long(r->links, DK_GW_LINKS_MAX) ||
           too_long(r->peer, DK_GW_PEER_MAX) || too_long(r->location, sizeof r->location - 1);
}

int dk_gwdb_device_upsert(struct dk_gwdb *db, const struct dk_gw_device *d)
{
    if (bad_ep(d->endpoint) || too_long(d->type, DK_GW_TYPE_MAX) || bad_reg(&d->reg) ||
        (unsigned)d->state > DK_GW_DEV_RESET)
        return DK_EINVAL;
    sqlite3_stmt *st = prep(db, S_DEV_UPSERT);
    if (!st)
        return DK_EIO;
    bind_text(st, 1, d->endpoint);
    bind_text(st, 2, dk_gw_dev_state_name(d->state));
    bind_text(st, 3, d->type);
    sqlite3_bind_int64(st, 4, d->last_seen);
    sqlite3_bind_int(st, 5, d->has_location);
    sqlite3_bind_double(st, 6, d->lat);
    sqlite3_bind_double(st, 7, d->lon);
    sqlite3_bind_int(st, 8, d->has_registration);
    sqlite3_bind_int64(st, 9, d->reg.lifetime);
    bind_text(st, 10, d->reg.binding);
    bind_text(st, 11, d->reg.version);
    bind_text(st, 12, d->reg.links);
    bind_text(st, 13, d->reg.peer);
    bind_text(st, 14, d->reg.location);
    sqlite3_bind_int64(st, 15, d->reg.registered);
    sqlite3_bind_int64(st, 16, d->created);
    sqlite3_bind_int64(st, 17, d->updated);
    return run(db, st, "upsert device");
}

int dk_gwdb_device_set_state(struct dk_gwdb *db, const char *ep, enum dk_gw_dev_state state,
                             int64_t now)
{
    if (bad_ep(ep) || (unsigned)state > DK_GW_DEV_RESET)
        return DK_EINVAL;
    int err = begin(db);
    if (err)
        return err;
    return end(db, set_state(db, ep, state, now));
}

static int update_existing(struct dk_gwdb *db, sqlite3_stmt *st, const char *what)
{
    int err = run(db, st, what);
    if (!err && sqlite3_changes(db->db) == 0)
        err = DK_ENOTFOUND;
    return err;
}

int dk_gwdb_device_set_registration(struct dk_gwdb *db, const char *ep,
                                    const struct dk_gw_registration *r)
{
    if (bad_ep(ep) || bad_reg(r))
        return DK_EINVAL;
    int err = begin(db);
    if (err)
        return err;
    err = ensure_device(db, ep, r->registered);
    sqlite3_stmt *st = err ? NULL : prep(db, S_DEV_SET_REG);
    if (!err && !st)
        err = DK_EIO;
    if (!err) {
        sqlite3_bind_int64(st, 1, r->lifetime);
        bind_text(st, 2, r->binding);
        bind_text(st, 3, r->version);
        bind_text(st, 4, r->links);
        bind_text(st, 5, r->peer);
        bind_text(st, 6, r->location);
        sqlite3_bind_int64(st, 7, r->registered);
        sqlite3_bind_int64(st, 8, r->registered);
        sqlite3_bind_int64(st, 9, r->registered);
        bind_text(st, 10, ep);
        err = run(db, st, "set registration");
    }
    return end(db, err);
}

int dk_gwdb_device_set_location(struct dk_gwdb *db, const char *ep, double lat, double lon,
                                int64_t now)
{
    if (bad_ep(ep) || !(lat >= -90 && lat <= 90) || !(lon >= -180 && lon <= 180))
        return DK_EINVAL;
    sqlite3_stmt *st = prep(db, S_DEV_SET_LOC);
    if (!st)
        return DK_EIO;
    sqlite3_bind_double(st, 1, lat);
    sqlite3_bind_double(st, 2, lon);
    sqlite3_bind_int64(st, 3, now);
    bind_text(st, 4, ep);
    return update_existing(db, st, "set location");
}

int dk_gwdb_device_touch(struct dk_gwdb *db, const char *ep, int64_t now)
{
    if (bad_ep(ep))
        return DK_EINVAL;
    sqlite3_stmt *st = prep(db, S_DEV_TOUCH);
    if (!st)
        return DK_EIO;
    sqlite3_bind_int64(st, 1, now);
    bind_text(st, 2, ep);
    return update_existing(db, st, "touch device");
}

int dk_gwdb_device_get(struct dk_gwdb *db, const char *ep, struct dk_gw_device *out)
{
    if (bad_ep(ep))
        return DK_EINVAL;
    sqlite3_stmt *st = prep(db, S_DEV_GET);
    if (!st)
        return DK_EIO;
    bind_text(st, 1, ep);
    int rc = sqlite3_step(st);
    int err = 0;
    if (rc == SQLITE_ROW)
        read_device(st, out);
    else
        err = rc == SQLITE_DONE ? DK_ENOTFOUND : map_rc(db, rc, "get device");
    finish(st);
    return err;
}

int dk_gwdb_device_list(struct dk_gwdb *db, dk_gwdb_device_fn *fn, void *user)
{
    sqlite3_stmt *st = prep(db, S_DEV_LIST);
    if (!st)
        return DK_EIO;
    struct dk_gw_device d;
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        read_device(st, &d);
        ret = fn(user, &d);
        if (ret)
            break;
    }
    if (!ret && rc != SQLITE_DONE)
        ret = map_rc(db, rc, "list devices");
    finish(st);
    return ret;
}

int dk_gwdb_device_delete(struct dk_gwdb *db, const char *ep)
{
    if (bad_ep(ep))
        return DK_EINVAL;
    int err = begin(db);
    if (err)
        return err;
    err = delete_by_ep(db, S_VAL_DELETE_EP, ep, false);
    if (!err)
        err = delete_by_ep(db, S_DEV_DELETE, ep, true);
    return end(db, err);
}

/* ---- credentials ---------------------------------------------------------------- */

static void read_cred(sqlite3_stmt *st, struct dk_gw_cred *c)
{
    memset(c, 0, sizeof *c);
    c->id = sqlite3_column_int64(st, 0);
    col_text(st, 1, c->endpoint, sizeof c->endpoint);
    c->kind = sqlite3_column_int(st, 2);
    c->psk_identity_len = col_blob(st, 3, c->psk_identity, sizeof c->psk_identity);
    c->psk_len = col_blob(st, 4, c->psk, sizeof c->psk);
    c->cert_len = col_blob(st, 5, c->cert, sizeof c->cert);
    c->has_hash = col_blob(st, 6, c->hash, sizeof c->hash) == sizeof c->hash;
    c->issued = sqlite3_column_int64(st, 7);
    c->revoked = sqlite3_column_int(st, 8) != 0;
    c->revoked_at = sqlite3_column_int64(st, 9);
}

static int revoke_locked(struct dk_gwdb *db, const char *ep, int64_t now, int *count)
{
    sqlite3_stmt *st = prep(db, S_CRED_REVOKE);
    if (!st)
        return DK_EIO;
    sqlite3_bind_int64(st, 1, now);
    bind_text(st, 2, ep);
    int err = run(db, st, "revoke credentials");
    if (!err && count)
        *count = sqlite3_changes(db->db);
    return err;
}

static bool bad_cred(const struct dk_gw_cred *c)
{
    if (bad_ep(c->endpoint) || c->psk_identity_len > DK_GW_PSK_ID_MAX ||
        c->psk_len > DK_GW_SECRET_MAX || c->cert_len > DK_GW_CERT_MAX)
        return true;
    switch (c->kind) {
    case DK_GW_CRED_PSK:
        return c->psk_identity_len == 0 || c->psk_len == 0;
    case DK_GW_CRED_X509:
        return c->cert_len == 0 || !c->has_hash;
    case DK_GW_CRED_RPK:
        return !c->has_hash;
    default:
        return true;
    }
}

int dk_gwdb_creds_issue(struct dk_gwdb *db, const struct dk_gw_cred *c, int64_t now, int64_t *id)
{
    if (bad_cred(c))
        return DK_EINVAL;
    int err = begin(db);
    if (err)
        return err;
    err = revoke_locked(db, c->endpoint, now, NULL);
    sqlite3_stmt *st = err ? NULL : prep(db, S_CRED_INSERT);
    if (!err && !st)
        err = DK_EIO;
    if (!err) {
        bool psk = c->kind == DK_GW_CRED_PSK;
        bind_text(st, 1, c->endpoint);
        sqlite3_bind_int(st, 2, c->kind);
        bind_blob_or_null(st, 3, c->psk_identity, psk ? c->psk_identity_len : 0);
        bind_blob_or_null(st, 4, c->psk, psk ? c->psk_len : 0);
        bind_blob_or_null(st, 5, c->cert, c->kind == DK_GW_CRED_X509 ? c->cert_len : 0);
        bind_blob_or_null(st, 6, c->hash, psk ? 0 : sizeof c->hash);
        sqlite3_bind_int64(st, 7, now);
        err = run(db, st, "issue credentials");
        if (!err && id)
            *id = sqlite3_last_insert_rowid(db->db);
    }
    return end(db, err);
}

int dk_gwdb_creds_revoke(struct dk_gwdb *db, const char *ep, int64_t now, int *count)
{
    if (bad_ep(ep))
        return DK_EINVAL;
    return revoke_locked(db, ep, now, count);
}

static int find_cred(struct dk_gwdb *db, enum stmt_id id, const void *key, size_t len, bool text,
                     struct dk_gw_cred *out)
{
    sqlite3_stmt *st = prep(db, id);
    if (!st)
        return DK_EIO;
    if (text)
        bind_text(st, 1, key);
    else
        sqlite3_bind_blob(st, 1, key, (int)len, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    int err = 0;
    if (rc == SQLITE_ROW)
        read_cred(st, out);
    else
        err = rc == SQLITE_DONE ? DK_ENOTFOUND : map_rc(db, rc, "find credentials");
    finish(st);
    return err;
}

int dk_gwdb_creds_find_psk(struct dk_gwdb *db, const uint8_t *identity, size_t len,
                           struct dk_gw_cred *out)
{
    if (!len || len > DK_GW_PSK_ID_MAX)
        return DK_EINVAL;
    return find_cred(db, S_CRED_FIND_PSK, identity, len, false, out);
}

int dk_gwdb_creds_find_hash(struct dk_gwdb *db, const uint8_t hash[32], struct dk_gw_cred *out)
{
    return find_cred(db, S_CRED_FIND_HASH, hash, 32, false, out);
}

int dk_gwdb_creds_active(struct dk_gwdb *db, const char *ep, struct dk_gw_cred *out)
{
    if (bad_ep(ep))
        return DK_EINVAL;
    return find_cred(db, S_CRED_ACTIVE, ep, 0, true, out);
}

/* ---- values ------------------------------------------------------------------------ */

int dk_gwdb_values_put(struct dk_gwdb *db, const char *ep, const char *path, int content_format,
                       const char *json, int64_t now)
{
    if (bad_ep(ep) || too_long(path, DK_GW_PATH_MAX) || !json)
        return DK_EINVAL;
    sqlite3_stmt *st = prep(db, S_VAL_PUT);
    if (!st)
        return DK_EIO;
    bind_text(st, 1, ep);
    bind_text(st, 2, path);
    sqlite3_bind_int(st, 3, content_format);
    bind_text(st, 4, json);
    sqlite3_bind_int64(st, 5, now);
    return run(db, st, "put value");
}

int dk_gwdb_values_list(struct dk_gwdb *db, const char *ep, dk_gwdb_value_fn *fn, void *user)
{
    if (bad_ep(ep))
        return DK_EINVAL;
    sqlite3_stmt *st = prep(db, S_VAL_LIST);
    if (!st)
        return DK_EIO;
    bind_text(st, 1, ep);
    struct dk_gw_value v;
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&v, 0, sizeof v);
        col_text(st, 0, v.endpoint, sizeof v.endpoint);
        col_text(st, 1, v.path, sizeof v.path);
        v.content_format = sqlite3_column_int(st, 2);
        const unsigned char *j = sqlite3_column_text(st, 3);
        v.json = j ? (const char *)j : "null";
        v.time = sqlite3_column_int64(st, 4);
        ret = fn(user, &v);
        if (ret)
            break;
    }
    if (!ret && rc != SQLITE_DONE)
        ret = map_rc(db, rc, "list values");
    finish(st);
    return ret;
}

/* ---- audit ---------------------------------------------------------------------------- */

int dk_gwdb_audit_add(struct dk_gwdb *db, int64_t now, const char *ep, const char *event,
                      const char *detail, int64_t *id)
{
    if (too_long(ep ? ep : "", DK_GW_EP_MAX) || too_long(event, DK_GW_EVENT_MAX) || !event[0])
        return DK_EINVAL;
    sqlite3_stmt *st = prep(db, S_AUDIT_ADD);
    if (!st)
        return DK_EIO;
    sqlite3_bind_int64(st, 1, now);
    bind_text(st, 2, ep);
    bind_text(st, 3, event);
    const char *d = detail ? detail : "";
    sqlite3_bind_text(st, 4, d, (int)strnlen(d, DK_GW_DETAIL_MAX), SQLITE_TRANSIENT);
    int err = run(db, st, "add audit");
    if (!err && id)
        *id = sqlite3_last_insert_rowid(db->db);
    return err;
}

int dk_gwdb_audit_list(struct dk_gwdb *db, const char *ep, int64_t before, size_t limit,
                       dk_gwdb_audit_fn *fn, void *user)
{
    bool by_ep = ep && ep[0];
    if (by_ep && too_long(ep, DK_GW_EP_MAX))
        return DK_EINVAL;
    sqlite3_stmt *st = prep(db, by_ep ? S_AUDIT_LIST_EP : S_AUDIT_LIST);
    if (!st)
        return DK_EIO;
    int i = 1;
    sqlite3_bind_int64(st, i++, before > 0 ? before : INT64_MAX);
    if (by_ep)
        bind_text(st, i++, ep);
    sqlite3_bind_int64(st, i, limit ? (int64_t)limit : 100);
    struct dk_gw_audit a;
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&a, 0, sizeof a);
        a.id = sqlite3_column_int64(st, 0);
        a.time = sqlite3_column_int64(st, 1);
        col_text(st, 2, a.endpoint, sizeof a.endpoint);
        col_text(st, 3, a.event, sizeof a.event);
        col_text(st, 4, a.detail, sizeof a.detail);
        ret = fn(user, &a);
        if (ret)
            break;
    }
    if (!ret && rc != SQLITE_DONE)
        ret = map_rc(db, rc, "list audit");
    finish(st);
    return ret;
}

int dk_gwdb_audit_prune(struct dk_gwdb *db, size_t keep, int *deleted)
{
    sqlite3_stmt *st = prep(db, S_AUDIT_PRUNE);
    if (!st)
        return DK_EIO;
    sqlite3_bind_int64(st, 1, (int64_t)keep);
    int err = run(db, st, "prune audit");
    if (deleted)
        *deleted = err ? 0 : sqlite3_changes(db->db);
    return err;
}
