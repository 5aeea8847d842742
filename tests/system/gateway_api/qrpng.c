/* TEST ONLY: qrpng TEXT OUT.png — draws TEXT as a QR code (dk_qr) so the
 * system test can feed `duckling scan --image` a real label image. */
#include <duckling/buf.h>
#include <duckling/err.h>
#include <duckling/qr.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: qrpng TEXT OUT.png\n");
        return 2;
    }
    struct dk_qr qr;
    dk_qr_init(&qr);
    int rc = dk_qr_setup(&qr, argv[1], strlen(argv[1]));
    size_t cap = 4u << 20;
    uint8_t *mem = malloc(cap);
    struct dk_buf out;
    dk_buf_init(&out, mem, cap);
    if (!rc)
        rc = mem ? dk_qr_png(&qr, 4, NULL, &out) : DK_ENOMEM;
    dk_qr_free(&qr);
    FILE *f = rc ? NULL : fopen(argv[2], "wb");
    if (!rc && (!f || fwrite(out.data, 1, out.len, f) != out.len))
        rc = DK_EIO;
    if (f && fclose(f) != 0)
        rc = DK_EIO;
    free(mem);
    if (rc) {
        fprintf(stderr, "qrpng: %s\n", dk_strerror(rc));
        return 1;
    }
    return 0;
}
