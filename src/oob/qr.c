/* QR codes for OOB labels: libqrencode encodes, we draw PNG, SVG and text. */
#include <duckling/qr.h>
#include <duckling/err.h>

#include "font.h"

#include <errno.h>
#include <png.h>
#include <qrencode.h>
#include <stdlib.h>
#include <string.h>

#define CAPTION_LINES_MAX 64

void dk_qr_init(struct dk_qr *qr)
{
    qr->width = 0;
    qr->code = NULL;
}

void dk_qr_free(struct dk_qr *qr)
{
    if (!qr)
        return;
    if (qr->code)
        QRcode_free(qr->code);
    dk_qr_init(qr);
}

int dk_qr_setup(struct dk_qr *qr, const char *text, size_t len)
{
    dk_qr_free(qr);
    if (!text || len == 0 || len > 7089)
        return DK_EINVAL;
    errno = 0;
    QRcode *code = QRcode_encodeData((int)len, (const unsigned char *)text, 0, QR_ECLEVEL_M);
    if (!code)
        return errno == ENOMEM ? DK_ENOMEM : DK_EINVAL;
    qr->code = code;
    qr->width = code->width;
    return 0;
}

bool dk_qr_dark(const struct dk_qr *qr, int x, int y)
{
    const QRcode *code = qr->code;
    if (!code || x < 0 || y < 0 || x >= qr->width || y >= qr->width)
        return false;
    return code->data[y * qr->width + x] & 1;
}

size_t dk_qr_wrap(const char *caption, size_t cols, size_t *starts, size_t *lens, size_t max)
{
    size_t n = caption ? strlen(caption) : 0, pos = 0, count = 0;
    if (cols == 0)
        cols = 1;
    while (pos < n) {
        size_t take = n - pos;
        if (take > cols) {
            take = cols;
            /* Break after the last ';' in the second half of the line, so
             * fields stay whole where they can. */
            for (size_t i = cols; i > cols / 2; i--) {
                if (caption[pos + i - 1] == ';') {
                    take = i;
                    break;
                }
            }
        }
        if (count < max) {
            starts[count] = pos;
            lens[count] = take;
        }
        count++;
        pos += take;
    }
    return count;
}

/* Where things go in an image; shared by PNG and SVG so they look alike. */
struct layout {
    int scale;    /* pixels per module */
    int side;     /* width of the image and height of the code part */
    int glyph;    /* pixels per font dot */
    int margin;   /* left margin of the caption */
    int line_h;   /* caption line pitch */
    size_t cols;  /* caption characters per line */
    size_t lines;
    size_t starts[CAPTION_LINES_MAX], lens[CAPTION_LINES_MAX];
    int height;
};

static int lay_out(const struct dk_qr *qr, int scale, const char *caption, struct layout *l)
{
    if (!qr->code || scale < 1 || scale > 32)
        return DK_EINVAL;
    l->scale = scale;
    l->side = (qr->width + 2 * DK_QR_QUIET) * scale;
    l->glyph = scale / 4 > 0 ? scale / 4 : 1;
    l->margin = 2 * scale;
    l->line_h = 12 * l->glyph;
    int usable = l->side - 2 * l->margin;
    l->cols = usable > 6 * l->glyph ? (size_t)(usable / (6 * l->glyph)) : 1;
    l->lines = dk_qr_wrap(caption, l->cols, l->starts, l->lens, CAPTION_LINES_MAX);
    if (l->lines > CAPTION_LINES_MAX)
        return DK_EINVAL;
    l->height = l->side + (l->lines ? (int)l->lines * l->line_h + 2 * scale : 0);
    return 0;
}

/* ---- PNG ---- */

struct png_sink {
    struct dk_buf *out;
    int err;
};

static void png_write_cb(png_structp png, png_bytep data, png_size_t n)
{
    struct png_sink *sink = png_get_io_ptr(png);
    if (dk_buf_put(sink->out, data, n) != 0) {
        sink->err = DK_ENOSPC;
        png_error(png, "output buffer full");
    }
}

static void png_flush_cb(png_structp png)
{
    (void)png;
}

static void png_error_cb(png_structp png, png_const_charp msg)
{
    (void)msg;
    png_longjmp(png, 1);
}

static void png_warning_cb(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static bool caption_dark(const struct layout *l, const char *caption, int x, int y)
{
    int top = l->side + l->scale; /* half the gap above the first line */
    if (y < top || x < l->margin)
        return false;
    size_t line = (size_t)((y - top) / l->line_h);
    int row = (y - top) % l->line_h / l->glyph - 2; /* two dots of leading */
    size_t col = (size_t)((x - l->margin) / (6 * l->glyph));
    int dot = (x - l->margin) % (6 * l->glyph) / l->glyph;
    if (line >= l->lines || col >= l->lens[line] || row < 0 || row >= DK_FONT_H ||
        dot >= DK_FONT_W)
        return false;
    const uint8_t *g = dk_font_glyph(caption[l->starts[line] + col]);
    return g[row] >> (DK_FONT_W - 1 - dot) & 1;
}

static bool pixel_dark(const struct dk_qr *qr, const struct layout *l, const char *caption, int x,
                       int y)
{
    if (y < l->side)
        return dk_qr_dark(qr, x / l->scale - DK_QR_QUIET, y / l->scale - DK_QR_QUIET);
    return caption_dark(l, caption, x, y);
}

int dk_qr_png(const struct dk_qr *qr, int scale, const char *caption, struct dk_buf *out)
{
    struct layout l;
    int rc = lay_out(qr, scale, caption, &l);
    if (rc)
        return rc;
    struct png_sink sink = {out, 0};
    size_t start = out->len;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_error_cb,
                                              png_warning_cb);
    if (!png)
        return DK_ENOMEM;
    png_infop info = png_create_info_struct(png);
    png_bytep volatile row = NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return DK_ENOMEM;
    }
    if (setjmp(png_jmpbuf(png))) {
        free(row);
        png_destroy_write_struct(&png, &info);
        out->len = start;
        return sink.err ? sink.err : DK_ENOMEM;
    }
    png_set_write_fn(png, &sink, png_write_cb, png_flush_cb);
    png_set_IHDR(png, info, (png_uint_32)l.side, (png_uint_32)l.height, 1, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t stride = ((size_t)l.side + 7) / 8;
    row = malloc(stride);
    if (!row)
        png_error(png, "out of memory");
    for (int y = 0; y < l.height; y++) {
        memset(row, 0xff, stride); /* 1 = white in 1-bit grayscale */
        for (int x = 0; x < l.side; x++)
            if (pixel_dark(qr, &l, caption, x, y))
                row[x / 8] &= (png_byte) ~(0x80 >> (x % 8));
        png_write_row(png, row);
    }
    png_write_end(png, info);
    free(row);
    png_destroy_write_struct(&png, &info);
    return 0;
}

/* ---- SVG ---- */

static void put_xml_escaped(struct dk_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&': dk_buf_put_str(b, "&amp;"); break;
        case '<': dk_buf_put_str(b, "&lt;"); break;
        case '>': dk_buf_put_str(b, "&gt;"); break;
        case '"': dk_buf_put_str(b, "&quot;"); break;
        default: dk_buf_put_u8(b, (uint8_t)s[i]);
        }
    }
}

int dk_qr_svg(const struct dk_qr *qr, int scale, const char *caption, struct dk_buf *out)
{
    struct layout l;
    int rc = lay_out(qr, scale, caption, &l);
    if (rc)
        return rc;
    size_t start = out->len;
    dk_buf_printf(out,
                  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
                  "height=\"%d\" viewBox=\"0 0 %d %d\">\n"
                  "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n"
                  "<path fill=\"#000000\" shape-rendering=\"crispEdges\" d=\"",
                  l.side, l.height, l.side, l.height, l.side, l.height);
    /* One rectangle per horizontal run of dark modules keeps the file small. */
    for (int y = 0; y < qr->width; y++) {
        for (int x = 0; x < qr->width;) {
            if (!dk_qr_dark(qr, x, y)) {
                x++;
                continue;
            }
            int run = 1;
            while (dk_qr_dark(qr, x + run, y))
                run++;
            dk_buf_printf(out, "M%d %dh%dv%dh-%dz", (x + DK_QR_QUIET) * scale,
                          (y + DK_QR_QUIET) * scale, run * scale, scale, run * scale);
            x += run;
        }
    }
    dk_buf_put_str(out, "\"/>\n");
    if (l.lines) {
        int font = 10 * l.glyph; /* monospace advance ~0.6 em = the PNG's 6-dot cell */
        dk_buf_printf(out,
                      "<g font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" "
                      "font-size=\"%d\" fill=\"#000000\" xml:space=\"preserve\">\n",
                      font);
        for (size_t i = 0; i < l.lines; i++) {
            dk_buf_printf(out, "<text x=\"%d\" y=\"%d\">", l.margin,
                          l.side + l.scale + (int)(i + 1) * l.line_h - 2 * l.glyph);
            put_xml_escaped(out, caption + l.starts[i], l.lens[i]);
            dk_buf_put_str(out, "</text>\n");
        }
        dk_buf_put_str(out, "</g>\n");
    }
    dk_buf_put_str(out, "</svg>\n");
    if (out->err) {
        out->len = start;
        return DK_ENOSPC;
    }
    return 0;
}

/* ---- terminal ---- */

static bool light(const struct dk_qr *qr, int x, int y)
{
    return !dk_qr_dark(qr, x - DK_QR_QUIET, y - DK_QR_QUIET);
}

int dk_qr_text(const struct dk_qr *qr, enum dk_qr_text_mode mode, struct dk_buf *out)
{
    if (!qr->code)
        return DK_EINVAL;
    size_t start = out->len;
    int n = qr->width + 2 * DK_QR_QUIET;
    if (mode == DK_QR_TEXT_ASCII) {
        for (int y = 0; y < n; y++) {
            for (int x = 0; x < n; x++)
                dk_buf_put_str(out, light(qr, x, y) ? "  " : "##");
            dk_buf_put_u8(out, '\n');
        }
    } else if (mode == DK_QR_TEXT_UTF8 || mode == DK_QR_TEXT_UTF8_INVERT) {
        /* Index: bit 1 = upper module drawn, bit 0 = lower module drawn. */
        static const char *const cell[4] = {" ", "\u2584", "\u2580", "\u2588"};
        bool ink_light = mode == DK_QR_TEXT_UTF8;
        for (int y = 0; y < n; y += 2) {
            for (int x = 0; x < n; x++) {
                bool up = light(qr, x, y) == ink_light;
                bool down = y + 1 < n ? light(qr, x, y + 1) == ink_light : false;
                dk_buf_put_str(out, cell[up << 1 | down]);
            }
            dk_buf_put_u8(out, '\n');
        }
    } else {
        return DK_EINVAL;
    }
    if (out->err) {
        out->len = start;
        return DK_ENOSPC;
    }
    return 0;
}
