#include <duckling/hex.h>
#include <duckling/err.h>

int dk_hex_encode(char *out, size_t outcap, const void *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *p = in;
    if (outcap < 2 * n + 1)
        return DK_ENOSPC;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
    return 0;
}

static int nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int dk_hex_decode(void *out, size_t outcap, const char *s, size_t slen, size_t *outlen)
{
    uint8_t *o = out;
    if (slen % 2)
        return DK_EPARSE;
    if (slen / 2 > outcap)
        return DK_ENOSPC;
    for (size_t i = 0; i < slen / 2; i++) {
        int hi = nibble(s[2 * i]), lo = nibble(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return DK_EPARSE;
        o[i] = (uint8_t)(hi << 4 | lo);
    }
    if (outlen)
        *outlen = slen / 2;
    return 0;
}
