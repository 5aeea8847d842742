#include <duckling/err.h>

const char *dk_strerror(int err)
{
    switch (err) {
    case DK_OK: return "success";
    case DK_EINVAL: return "invalid argument";
    case DK_ENOMEM: return "out of memory";
    case DK_ENOSPC: return "buffer too small";
    case DK_EPARSE: return "malformed input";
    case DK_ENOTFOUND: return "not found";
    case DK_EEXIST: return "already exists";
    case DK_ETIMEDOUT: return "timed out";
    case DK_EIO: return "input/output error";
    case DK_ENOTSUP: return "not supported";
    case DK_EAGAIN: return "try again";
    case DK_ECRYPTO: return "cryptographic failure";
    case DK_EAUTH: return "authentication failed";
    case DK_EPERM: return "not permitted";
    case DK_ESTATE: return "invalid state";
    case DK_ELIMIT: return "limit reached";
    case DK_ECLOSED: return "closed";
    case DK_ERESET: return "reset by peer";
    case DK_ECORRUPT: return "integrity check failed";
    case DK_EBADOPT: return "unknown critical option";
    case DK_EVERSION: return "unsupported version";
    case DK_ECANCELED: return "canceled";
    case DK_ERANGE: return "value out of range";
    default: return "unknown error";
    }
}

bool dk_err_is_fatal(int err)
{
    switch (err) {
    case DK_ENOMEM:
    case DK_ECRYPTO:
    case DK_EAUTH:
    case DK_ECLOSED:
    case DK_EIO:
        return true;
    default:
        return false;
    }
}
