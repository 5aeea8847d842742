/* The store's file I/O: atomic replace, bounded reads, shredding. */
#include "format.h"

#include <duckling/err.h>
#include <duckling/mem.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int dk_store_path(char *out, size_t cap, const char *dir, const char *name)
{
    if (!dir || !*dir)
        dir = ".";
    int n = snprintf(out, cap, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= cap ? DK_EINVAL : 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
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

int dk_store_dir_sync(const char *dir)
{
    int fd = open(dir && *dir ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return DK_EIO;
    int rc = fsync(fd) == 0 ? 0 : DK_EIO;
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int dk_store_file_write(const char *dir, const char *name, const uint8_t *data, size_t len)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    char tmpname[NAME_MAX + 1];
    if (snprintf(tmpname, sizeof tmpname, "%s.tmp", name) >= (int)sizeof tmpname ||
        dk_store_path(path, sizeof path, dir, name) || dk_store_path(tmp, sizeof tmp, dir, tmpname)) {
        errno = ENAMETOOLONG;
        return DK_EIO;
    }
    /* A temporary left by a crash is simply overwritten. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return DK_EIO;
    int rc = fchmod(fd, 0600) == 0 ? 0 : DK_EIO;
    if (rc == 0)
        rc = write_all(fd, data, len);
    if (rc == 0 && fsync(fd) != 0)
        rc = DK_EIO;
    int saved = errno;
    if (close(fd) != 0 && rc == 0) {
        rc = DK_EIO;
        saved = errno;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = DK_EIO;
        saved = errno;
    }
    if (rc) {
        unlink(tmp);
        errno = saved;
        return rc;
    }
    return dk_store_dir_sync(dir);
}

int dk_store_file_read(const char *dir, const char *name, size_t max, const struct dk_alloc *a,
                       uint8_t **data, size_t *len, const char **why)
{
    char path[PATH_MAX];
    *data = NULL;
    *len = 0;
    if (dk_store_path(path, sizeof path, dir, name)) {
        if (why)
            *why = "path too long";
        errno = ENAMETOOLONG;
        return DK_EIO;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (why)
            *why = strerror(errno);
        return errno == ENOENT ? DK_ENOTFOUND : DK_EIO;
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = DK_EIO;
        if (why)
            *why = strerror(errno);
    } else if (!S_ISREG(st.st_mode)) {
        rc = DK_ECORRUPT;
        if (why)
            *why = "not a regular file";
    } else if ((uintmax_t)st.st_size > max) {
        rc = DK_ECORRUPT;
        if (why)
            *why = "file too large to be a store";
    }
    uint8_t *buf = NULL;
    size_t got = 0, want = rc == 0 ? (size_t)st.st_size : 0;
    if (rc == 0) {
        /* One byte more than the size so growth while reading is noticed. */
        buf = dk_alloc_zeroed(a, want + 1);
        if (!buf) {
            rc = DK_ENOMEM;
            if (why)
                *why = "out of memory";
        }
    }
    while (rc == 0) {
        ssize_t r = read(fd, buf + got, want + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = DK_EIO;
            if (why)
                *why = strerror(errno);
        }
        if (r <= 0)
            break;
        got += (size_t)r;
        if (got > want) {
            rc = DK_EIO;
            if (why)
                *why = "file changed while being read";
        }
    }
    close(fd);
    if (rc) {
        if (buf) {
            dk_memzero(buf, want + 1);
            dk_alloc_release(a, buf);
        }
        return rc;
    }
    *data = buf;
    *len = got;
    return 0;
}

int dk_store_file_shred(const char *dir, const char *name)
{
    char path[PATH_MAX];
    if (dk_store_path(path, sizeof path, dir, name)) {
        errno = ENAMETOOLONG;
        return DK_EIO;
    }
    int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : (unlink(path) == 0 ? 0 : DK_EIO);
    int rc = 0;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        static const uint8_t zeros[4096];
        off_t left = st.st_size;
        while (rc == 0 && left > 0) {
            size_t n = left > (off_t)sizeof zeros ? sizeof zeros : (size_t)left;
            rc = write_all(fd, zeros, n);
            left -= (off_t)n;
        }
        if (rc == 0 && fsync(fd) != 0)
            rc = DK_EIO;
    }
    close(fd);
    /* Unlink even when the overwrite failed: the file must go. */
    if (unlink(path) != 0 && errno != ENOENT)
        rc = DK_EIO;
    return rc;
}
