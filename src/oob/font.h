/* Internal: the caption font of the QR label images. */
#ifndef DK_OOB_FONT_H
#define DK_OOB_FONT_H

#include <stdint.h>

#define DK_FONT_W 5
#define DK_FONT_H 7

/* The 7 rows of c's glyph; characters outside printable ASCII draw as '?'. */
const uint8_t *dk_font_glyph(char c);

#endif
