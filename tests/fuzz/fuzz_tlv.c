// dk-fuzz-libs: dk_lwm2m dk_base m
/* LwM2M TLV decoder: the first byte picks the request path and whether the
 * built-in definitions type the values; whatever decodes must survive a
 * round trip through TLV, SenML JSON, SenML CBOR (and plain text). */
#include <stddef.h>
#include <stdint.h>

#include "lwm2m_fuzz_common.h"

static const char *const bases[] = {"/3",     "/3/0",    "/3/0/6", "/3/0/6/1",
                                    "/2",     "/1/0",    "/3311/0", "/65/0/0"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *base = bases[data[0] & 7];
    bool raw = data[0] & 8;
    fz_decode_and_check(DK_LWM2M_CF_TLV, base, data + 1, size - 1, raw);
    return 0;
}
