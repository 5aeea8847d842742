/* duckling — hexadecimal. Encoding writes lowercase; decoding accepts both cases. */
#ifndef DUCKLING_HEX_H
#define DUCKLING_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Writes 2*n hex digits and a NUL into out (outcap >= 2*n+1).
 * Returns 0 or DK_ENOSPC. */
int dk_hex_encode(char *out, size_t outcap, const void *in, size_t n);

/* Decodes slen hex digits (slen even) into out; *outlen gets slen/2.
 * Returns 0, DK_EPARSE (odd length or a non-hex character) or DK_ENOSPC. */
int dk_hex_decode(void *out, size_t outcap, const char *s, size_t slen, size_t *outlen);

#endif
