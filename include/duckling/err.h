/* duckling — error codes. One negative error space for the whole library
 * (DESIGN §9.8). CoAP response codes are protocol values, never these. */
#ifndef DUCKLING_ERR_H
#define DUCKLING_ERR_H

#include <stdbool.h>

enum dk_error {
    DK_OK = 0,
    DK_EINVAL = -1,     /* invalid argument (caller bug or bad option) */
    DK_ENOMEM = -2,     /* allocation failed */
    DK_ENOSPC = -3,     /* output buffer or table too small */
    DK_EPARSE = -4,     /* malformed input from outside */
    DK_ENOTFOUND = -5,  /* no such item */
    DK_EEXIST = -6,     /* item already exists */
    DK_ETIMEDOUT = -7,  /* peer did not answer in time; retries used up */
    DK_EIO = -8,        /* I/O or system call failed (see errno where the doc says so) */
    DK_ENOTSUP = -9,    /* not supported by this build or backend */
    DK_EAGAIN = -10,    /* nothing to do now; try again after more input or time */
    DK_ECRYPTO = -11,   /* a cryptographic primitive failed */
    DK_EAUTH = -12,     /* authentication of the peer failed */
    DK_EPERM = -13,     /* refused by policy or access control */
    DK_ESTATE = -14,    /* call not valid in the current state */
    DK_ELIMIT = -15,    /* a configured limit was reached */
    DK_ECLOSED = -16,   /* session or exchange closed */
    DK_ERESET = -17,    /* peer reset the exchange (CoAP RST) */
    DK_ECORRUPT = -18,  /* stored data failed its integrity check */
    DK_EBADOPT = -19,   /* unknown critical CoAP option */
    DK_EVERSION = -20,  /* unsupported format or protocol version */
    DK_ECANCELED = -21, /* operation canceled by the caller */
    DK_ERANGE = -22,    /* value out of range */
};
#define DK_ERR_MIN DK_ERANGE

/* Returns a static, human-readable string for an error code (never NULL). */
const char *dk_strerror(int err);

/* True when the error ends the context it came from (it must be freed). */
bool dk_err_is_fatal(int err);

#endif
