// dk-fuzz-libs: dk_oob dk_base
/* The OOB message parser (DESIGN §5), through the entry point programs call.
 * Whatever parses must format back to text that parses to the same fields. */
#include <duckling/oob.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dk_oob_msg m, back;
    struct dk_oob_error e;
    char text[DK_OOB_TEXT_MAX + 1];
    size_t len;
    if (dk_oob_parse((const char *)data, size, &m, &e) != 0) {
        if (!e.why || !dk_oob_field_name(e.field))
            abort();
        return 0;
    }
    if (dk_oob_format(&m, text, sizeof text, &len, NULL) != 0)
        abort();
    if (dk_oob_parse(text, len, &back, NULL) != 0 || memcmp(&m, &back, sizeof m) != 0)
        abort();
    if (!dk_oob_cred_equal(&m, back.cred, back.cred_len))
        abort();
    return 0;
}
