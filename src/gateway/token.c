/* The admin token: DATA/admin.token, 256 bits from the CSPRNG as hex,
 * created once with mode 0600 and never rewritten. */
#include <duckling/gateway.h>
#include <duckling/err.h>
#include <duckling/hex.h>
#include <duckling/mem.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOKEN_BYTES (DK_GW_TOKEN_HEX / 2)

static int read_token(int fd, char out[DK_GW_TOKEN_HEX + 1])
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return DK_EIO;
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077))
        return DK_EPERM;
    char buf[DK_GW_TOKEN_HEX + 4];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0)
        return DK_EIO;
    size_t len = (size_t)n;
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    int rc = 0;
    uint8_t raw[TOKEN_BYTES];
    size_t rawlen;
    if (len != DK_GW_TOKEN_HEX || dk_hex_decode(raw, sizeof raw, buf, len, &rawlen) != 0)
        rc = DK_EPARSE;
    if (!rc) {
        /* Normalise to lowercase, as generated. */
        rc = dk_hex_encode(out, DK_GW_TOKEN_HEX + 1, raw, rawlen);
    }
    dk_memzero(raw, sizeof raw);
    dk_memzero(buf, sizeof buf);
    return rc;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return DK_EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int create_token(const char *path, struct dk_rng *rng, char out[DK_GW_TOKEN_HEX + 1])
{
    uint8_t raw[TOKEN_BYTES];
    int rc = dk_rng_bytes(rng, raw, sizeof raw);
    if (rc)
        return rc;
    rc = dk_hex_encode(out, DK_GW_TOKEN_HEX + 1, raw, sizeof raw);
    dk_memzero(raw, sizeof raw);
    if (rc)
        return rc;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return errno == EEXIST ? DK_EEXIST : DK_EIO;
    char line[DK_GW_TOKEN_HEX + 1];
    memcpy(line, out, DK_GW_TOKEN_HEX);
    line[DK_GW_TOKEN_HEX] = '\n';
    /* umask may have narrowed the mode further; it never widens it. */
    rc = fchmod(fd, 0600) == 0 ? 0 : DK_EIO;
    if (!rc)
        rc = write_all(fd, line, sizeof line);
    if (!rc && fsync(fd) != 0)
        rc = DK_EIO;
    dk_memzero(line, sizeof line);
    close(fd);
    if (rc)
        unlink(path);
    return rc;
}

int dk_gw_token_load_or_create(const char *dir, struct dk_rng *rng, char out[DK_GW_TOKEN_HEX + 1],
                               bool *created)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/admin.token", dir) >= (int)sizeof path)
        return DK_EINVAL;
    *created = false;
    for (int tries = 0; tries < 2; tries++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0) {
            int rc = read_token(fd, out);
            close(fd);
            return rc;
        }
        if (errno != ENOENT)
            return DK_EIO;
        int rc = create_token(path, rng, out);
        if (rc == 0) {
            /* Make the new name durable before the token is shown. */
            int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (dfd >= 0) {
                fsync(dfd);
                close(dfd);
            }
            *created = true;
            return 0;
        }
        if (rc != DK_EEXIST)
            return rc;
        /* Lost a race with another process: read what it wrote. */
    }
    return DK_EIO;
}
