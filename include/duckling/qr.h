/* duckling — QR codes for OOB labels (part of the oob layer, DESIGN §2.6).
 * Encoding is libqrencode's (byte mode, error correction M); this module only
 * draws the module matrix: PNG (libpng) and SVG with the label text printed
 * under the code for manual entry, and text for a terminal.
 * Images are written into a caller-owned struct dk_buf; nothing touches files. */
#ifndef DUCKLING_QR_H
#define DUCKLING_QR_H

#include <stdbool.h>
#include <stddef.h>

#include <duckling/buf.h>

struct dk_qr {
    int width;       /* modules per side, 0 before setup */
    void *code;      /* libqrencode's QRcode, owned */
};

void dk_qr_init(struct dk_qr *qr);
/* Encodes len bytes of text (error correction M, 8-bit mode, smallest
 * version that fits). A previous code in qr is freed first.
 * Returns 0, DK_EINVAL (empty, or too long for any QR version) or DK_ENOMEM. */
int dk_qr_setup(struct dk_qr *qr, const char *text, size_t len);
/* True when the module at column x, row y is dark; false outside the code. */
bool dk_qr_dark(const struct dk_qr *qr, int x, int y);
void dk_qr_free(struct dk_qr *qr);

/* Quiet zone around the code, in modules (ISO/IEC 18004 asks for 4). */
#define DK_QR_QUIET 4

/* A 1-bit grayscale PNG: each module scale x scale pixels (1..32), a quiet
 * zone of DK_QR_QUIET modules, then caption (may be NULL or "") printed under
 * the code in a 5x7 pixel font, wrapped to the image width (preferably after
 * a ';'). Appends to out. Returns 0, DK_EINVAL (no code, bad scale),
 * DK_ENOSPC (out too small) or DK_ENOMEM. */
int dk_qr_png(const struct dk_qr *qr, int scale, const char *caption, struct dk_buf *out);

/* An SVG document: the code as one path of dark modules (scale user units per
 * module), then the caption as <text> lines in a monospace font, wrapped as in
 * the PNG. Returns 0, DK_EINVAL or DK_ENOSPC. */
int dk_qr_svg(const struct dk_qr *qr, int scale, const char *caption, struct dk_buf *out);

/* Splits caption into lines of at most cols characters, preferably right
 * after a ';'. Fills starts/lens with at most max lines and returns the
 * number of lines needed (which may exceed max). */
size_t dk_qr_wrap(const char *caption, size_t cols, size_t *starts, size_t *lens, size_t max);

enum dk_qr_text_mode {
    /* UTF-8 half blocks, two module rows per line, light modules drawn in the
     * foreground colour: for the usual light-on-dark terminal. */
    DK_QR_TEXT_UTF8 = 0,
    /* The same for dark-on-light terminals (dark modules in the foreground). */
    DK_QR_TEXT_UTF8_INVERT = 1,
    /* Plain ASCII, "##" per dark module, one module row per line. */
    DK_QR_TEXT_ASCII = 2,
};

/* The code with its quiet zone as text lines ending in '\n'.
 * Returns 0, DK_EINVAL or DK_ENOSPC. */
int dk_qr_text(const struct dk_qr *qr, enum dk_qr_text_mode mode, struct dk_buf *out);

#endif
