// dk-fuzz-libs: dk_lwm2m dk_base m
/* SenML CBOR decoder: the first byte picks the request path and typing; what
 * decodes must survive a round trip through every format that can carry it. */
#include <stddef.h>
#include <stdint.h>

#include "lwm2m_fuzz_common.h"

static const char *const bases[] = {"/", "/3/0", "/3303/0/5700", "/1"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fz_decode_and_check(DK_LWM2M_CF_SENML_CBOR, bases[data[0] & 3], data + 1, size - 1,
                        data[0] & 4);
    return 0;
}
