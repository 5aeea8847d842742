// dk-fuzz-libs: dk_dtls_mbedtls dk_dtls dk_base
/* Arbitrary datagrams from a few peers into a DTLS server table (mbedTLS
 * backend): the ClientHello parser, cookies, session creation and the
 * backend's handshake. Input format: see fuzz_dtls_server.h; the seed corpus
 * (tests/fuzz/corpus/fuzz_dtls_server/) holds a real first ClientHello and a
 * whole PSK handshake with data and close_notify, made by
 * tests/unit/dtls/gen_fuzz_seeds.c. */
#include "fuzz_dtls_server.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f;
    if (fz_setup(&f))
        abort();
    fz_run(&f, data, size);
    fz_free(&f);
    return 0;
}
