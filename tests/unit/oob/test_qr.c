/* QR label rendering: PNG read back with libpng, SVG and terminal text
 * compared module by module with the code. (zbarimg decoding is in the
 * factory system test.) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <png.h>

#include <duckling/err.h>
#include <duckling/qr.h>

static const char label[] = "01;EP:055192;T:LED;WIFI;WPA2-PSK:huawei_iot:"
                            "5bd1f120735d1ba4e2d2149aeb891850;03;"
                            "367f36ee1f5e272cfbca1ca35a73e42b;34;;";

static void test_setup_and_errors(void **state)
{
    (void)state;
    struct dk_qr qr;
    dk_qr_init(&qr);
    assert_false(dk_qr_dark(&qr, 0, 0));
    assert_int_equal(dk_qr_setup(&qr, "", 0), DK_EINVAL);
    assert_int_equal(dk_qr_setup(&qr, label, strlen(label)), 0);
    /* 116 bytes at level M in byte mode need version 7: 45 modules. */
    assert_int_equal(qr.width, 45);
    /* Finder pattern corners are dark, the separator next to them light. */
    assert_true(dk_qr_dark(&qr, 0, 0));
    assert_true(dk_qr_dark(&qr, 44, 0));
    assert_true(dk_qr_dark(&qr, 0, 44));
    assert_false(dk_qr_dark(&qr, 7, 0));
    assert_false(dk_qr_dark(&qr, -1, 0));
    assert_false(dk_qr_dark(&qr, 45, 0));
    /* Setting up again replaces the code. */
    assert_int_equal(dk_qr_setup(&qr, "x", 1), 0);
    assert_int_equal(qr.width, 21);
    char *big = malloc(8000);
    memset(big, 'a', 8000);
    assert_int_equal(dk_qr_setup(&qr, big, 8000), DK_EINVAL);
    assert_int_equal(qr.width, 0);
    free(big);
    uint8_t mem[64];
    struct dk_buf b;
    dk_buf_init(&b, mem, sizeof mem);
    assert_int_equal(dk_qr_png(&qr, 4, NULL, &b), DK_EINVAL); /* no code */
    dk_qr_free(&qr);
    dk_qr_free(&qr); /* always safe */
}

static void test_wrap(void **state)
{
    (void)state;
    size_t starts[16], lens[16];
    size_t n = dk_qr_wrap(label, 40, starts, lens, 16);
    assert_true(n >= 3);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(starts[i], total);
        assert_true(lens[i] <= 40 && (lens[i] > 20 || i + 1 == n));
        total += lens[i];
    }
    assert_int_equal(total, strlen(label));
    /* Breaks after a ';' in the second half of a line when there is one. */
    n = dk_qr_wrap("aaaa;bbbb;cccc;dd", 6, starts, lens, 16);
    assert_int_equal(n, 4);
    assert_int_equal(lens[0], 5);
    assert_int_equal(lens[1], 5);
    assert_int_equal(lens[2], 5);
    assert_int_equal(lens[3], 2);
    /* No ';' to break at: hard breaks. */
    n = dk_qr_wrap("abcdefghij", 4, starts, lens, 16);
    assert_int_equal(n, 3);
    assert_int_equal(lens[2], 2);
    assert_int_equal(dk_qr_wrap("", 4, starts, lens, 16), 0);
    assert_int_equal(dk_qr_wrap("abcdefghij", 1, starts, lens, 2), 10); /* count beyond max */
}

struct image {
    png_image img;
    uint8_t *px;
};

static void read_png(const uint8_t *data, size_t len, struct image *im)
{
    memset(&im->img, 0, sizeof im->img);
    im->img.version = PNG_IMAGE_VERSION;
    assert_true(png_image_begin_read_from_memory(&im->img, data, len));
    im->img.format = PNG_FORMAT_GRAY;
    im->px = malloc(PNG_IMAGE_SIZE(im->img));
    assert_non_null(im->px);
    assert_true(png_image_finish_read(&im->img, NULL, im->px, 0, NULL));
}

static void test_png_matches_modules(void **state)
{
    (void)state;
    struct dk_qr qr;
    dk_qr_init(&qr);
    assert_int_equal(dk_qr_setup(&qr, label, strlen(label)), 0);
    static uint8_t mem[1 << 16];
    struct dk_buf b;
    dk_buf_init(&b, mem, sizeof mem);
    const int scale = 8;
    assert_int_equal(dk_qr_png(&qr, scale, label, &b), 0);
    assert_memory_equal(mem, "\x89PNG\r\n\x1a\n", 8);
    struct image im;
    read_png(mem, b.len, &im);
    int side = (qr.width + 2 * DK_QR_QUIET) * scale;
    assert_int_equal(im.img.width, side);
    assert_true((int)im.img.height > side + 3 * 24); /* caption lines below */
    for (int y = 0; y < side; y++) {
        for (int x = 0; x < side; x++) {
            bool dark = im.px[(size_t)y * im.img.width + (size_t)x] < 128;
            assert_int_equal(dark, dk_qr_dark(&qr, x / scale - DK_QR_QUIET,
                                              y / scale - DK_QR_QUIET));
        }
    }
    /* The caption is drawn: dark pixels under the code, none in the side
     * margins. */
    size_t dark = 0;
    for (size_t y = (size_t)side; y < im.img.height; y++)
        for (size_t x = 0; x < im.img.width; x++) {
            bool d = im.px[y * im.img.width + x] < 128;
            dark += d;
            if (x < (size_t)(2 * scale))
                assert_false(d);
        }
    assert_true(dark > 1000);
    free(im.px);

    /* Without a caption the image is square. */
    dk_buf_init(&b, mem, sizeof mem);
    assert_int_equal(dk_qr_png(&qr, 2, NULL, &b), 0);
    read_png(mem, b.len, &im);
    assert_int_equal(im.img.width, im.img.height);
    free(im.px);

    /* Too small a buffer: DK_ENOSPC, nothing kept. */
    uint8_t small[100];
    dk_buf_init(&b, small, sizeof small);
    assert_int_equal(dk_qr_png(&qr, 8, label, &b), DK_ENOSPC);
    assert_int_equal(b.len, 0);
    dk_buf_init(&b, mem, sizeof mem);
    assert_int_equal(dk_qr_png(&qr, 0, label, &b), DK_EINVAL);
    assert_int_equal(dk_qr_png(&qr, 33, label, &b), DK_EINVAL);
    dk_qr_free(&qr);
}

static void test_svg_has_code_and_caption(void **state)
{
    (void)state;
    struct dk_qr qr;
    dk_qr_init(&qr);
    const char *text = "01;EP:a<b&c;T:\"x\";NONE;;00;;e3;;";
    assert_int_equal(dk_qr_setup(&qr, text, strlen(text)), 0);
    static char mem[1 << 16];
    struct dk_buf b;
    dk_buf_init(&b, mem, sizeof mem - 1);
    assert_int_equal(dk_qr_svg(&qr, 4, text, &b), 0);
    mem[b.len] = '\0';
    assert_non_null(strstr(mem, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert_non_null(strstr(mem, "</svg>\n"));
    /* Joining the <text> lines, unescaped, gives the caption back. */
    char joined[256] = "";
    for (char *p = mem; (p = strstr(p, "<text ")) != NULL;) {
        p = strchr(p, '>') + 1;
        char *end = strstr(p, "</text>");
        strncat(joined, p, (size_t)(end - p));
        p = end;
    }
    assert_string_equal(joined, "01;EP:a&lt;b&amp;c;T:&quot;x&quot;;NONE;;00;;e3;;");
    /* Dark modules: one run per "M x y h w" with y of the first module row. */
    size_t runs = 0;
    for (const char *p = mem; (p = strchr(p, 'M')) != NULL; p++)
        runs++;
    assert_true(runs > (size_t)qr.width);
    char small[64];
    dk_buf_init(&b, small, sizeof small);
    assert_int_equal(dk_qr_svg(&qr, 4, text, &b), DK_ENOSPC);
    dk_qr_free(&qr);
}

/* Reads the UTF-8 half-block rendering back into modules. */
static void test_terminal_text_matches_modules(void **state)
{
    (void)state;
    struct dk_qr qr;
    dk_qr_init(&qr);
    assert_int_equal(dk_qr_setup(&qr, label, strlen(label)), 0);
    static char mem[1 << 16];
    struct dk_buf b;
    int n = qr.width + 2 * DK_QR_QUIET;
    for (int mode = DK_QR_TEXT_UTF8; mode <= DK_QR_TEXT_UTF8_INVERT; mode++) {
        dk_buf_init(&b, mem, sizeof mem - 1);
        assert_int_equal(dk_qr_text(&qr, (enum dk_qr_text_mode)mode, &b), 0);
        mem[b.len] = '\0';
        const char *p = mem;
        for (int y = 0; y < n; y += 2) {
            for (int x = 0; x < n; x++) {
                bool up, down;
                if (strncmp(p, " ", 1) == 0) {
                    up = down = false;
                    p += 1;
                } else if (strncmp(p, "\u2580", 3) == 0) {
                    up = true, down = false;
                    p += 3;
                } else if (strncmp(p, "\u2584", 3) == 0) {
                    up = false, down = true;
                    p += 3;
                } else {
                    assert_memory_equal(p, "\u2588", 3);
                    up = down = true;
                    p += 3;
                }
                /* UTF8 draws light modules, UTF8_INVERT dark ones. */
                bool ink_dark = mode == DK_QR_TEXT_UTF8_INVERT;
                bool d0 = dk_qr_dark(&qr, x - DK_QR_QUIET, y - DK_QR_QUIET);
                assert_int_equal(up, d0 == ink_dark);
                if (y + 1 < n) {
                    bool d1 = dk_qr_dark(&qr, x - DK_QR_QUIET, y + 1 - DK_QR_QUIET);
                    assert_int_equal(down, d1 == ink_dark);
                }
            }
            assert_int_equal(*p++, '\n');
        }
        assert_int_equal(*p, '\0');
    }
    dk_buf_init(&b, mem, sizeof mem - 1);
    assert_int_equal(dk_qr_text(&qr, DK_QR_TEXT_ASCII, &b), 0);
    assert_int_equal(b.len, (size_t)n * (size_t)(2 * n + 1));
    assert_memory_equal(mem + (size_t)DK_QR_QUIET * (2 * n + 1) + 2 * DK_QR_QUIET, "##", 2);
    assert_int_equal(dk_qr_text(&qr, (enum dk_qr_text_mode)7, &b), DK_EINVAL);
    dk_qr_free(&qr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_setup_and_errors),
        cmocka_unit_test(test_wrap),
        cmocka_unit_test(test_png_matches_modules),
        cmocka_unit_test(test_svg_has_code_and_caption),
        cmocka_unit_test(test_terminal_text_matches_modules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
