/* Internal to the store layer: the container shared by every store file, and
 * the file helpers (the only code here that does I/O). */
#ifndef DK_STORE_FORMAT_H
#define DK_STORE_FORMAT_H

#include <duckling/alloc.h>
#include <duckling/buf.h>

#include <stddef.h>
#include <stdint.h>

#define DK_STORE_MAGIC "DKST"
#define DK_STORE_SHA256_LEN 32

/* Writes the 12-byte header: magic, version, kind, flags 0, payload length. */
void dk_store_put_header(uint8_t hdr[12], uint8_t kind, uint32_t payload_len);

/* Checks the header of a container of the given kind and that the file is
 * exactly header + payload + trailer_len bytes. *payload and *payload_len
 * describe the payload. Returns 0, DK_EPARSE, DK_EVERSION or DK_ECORRUPT. */
int dk_store_check_header(const uint8_t *in, size_t len, uint8_t kind, size_t trailer_len,
                          const uint8_t **payload, size_t *payload_len, const char **why);

/* A container whose integrity is SHA-256 over header and payload. */
int dk_store_hashed_wrap(uint8_t kind, const uint8_t *payload, size_t payload_len, uint8_t *out,
                         size_t cap, size_t *len);
int dk_store_hashed_unwrap(const uint8_t *in, size_t len, uint8_t kind, const uint8_t **payload,
                           size_t *payload_len, const char **why);

/* Typed records: u16 type, u32 length, value. */
int dk_store_put_record(struct dk_buf *b, uint16_t type, const void *value, size_t len);
/* Reads the next record; returns 0, DK_ENOTFOUND at the clean end, DK_EPARSE. */
int dk_store_next_record(struct dk_rd *r, uint16_t *type, const uint8_t **value, size_t *len);

/* Files. path_of joins dir and name; returns 0 or DK_EINVAL (too long). */
int dk_store_path(char *out, size_t cap, const char *dir, const char *name);
/* Atomic replace of dir/name with mode 0600. Returns 0 or DK_EIO. */
int dk_store_file_write(const char *dir, const char *name, const uint8_t *data, size_t len);
/* Reads all of dir/name (at most max bytes) into memory from a (NULL: malloc).
 * Returns 0, DK_ENOTFOUND, DK_ECORRUPT (larger than max or not a regular
 * file), DK_ENOMEM or DK_EIO. */
int dk_store_file_read(const char *dir, const char *name, size_t max, const struct dk_alloc *a,
                       uint8_t **data, size_t *len, const char **why);
/* Overwrites dir/name with zeros, fsyncs and unlinks it. Missing is fine.
 * Returns 0 or DK_EIO. The caller fsyncs the directory. */
int dk_store_file_shred(const char *dir, const char *name);
int dk_store_dir_sync(const char *dir);

#endif
