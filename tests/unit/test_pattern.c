/* Unit tests for the numbered test-pattern frames: deterministic bytes,
 * baseline 4:2:0 JPEGs that libjpeg-turbo decodes at the asked size, the
 * "rtsp-harness frame N" comment, a visibly different number box for
 * different N, option and size-limit errors, and the writer -> reader
 * pipeline over 50 frames. */
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "check.h"
#include "fixture/pattern.h"
#include "jpeg.h"
#include "mjpeg.h"

/* Encode one frame with fresh state; returns NULL (and counts a failure) on error. */
static uint8_t *make_frame(const struct pattern_options *o, uint32_t n, size_t *len)
{
    struct pattern_encoder e;
    char msg[256] = "";
    uint8_t *jpeg = NULL;
    if (pattern_encoder_init(&e, o, msg, sizeof msg) != 0) {
        fprintf(stderr, "encoder init: %s\n", msg);
        CHECK(!"pattern_encoder_init failed");
        return NULL;
    }
    if (pattern_encode(&e, n, &jpeg, len, msg, sizeof msg) != 0) {
        fprintf(stderr, "encode: %s\n", msg);
        CHECK(!"pattern_encode failed");
    }
    pattern_encoder_free(&e);
    return jpeg;
}

/* Decode to RGB at full size; returns NULL on failure. */
static uint8_t *decode(const uint8_t *jpeg, size_t len, int *w, int *h, int *subsamp)
{
    tjhandle tj = tjInitDecompress();
    int cs;
    uint8_t *rgb = NULL;
    if (tjDecompressHeader3(tj, jpeg, (unsigned long)len, w, h, subsamp, &cs) == 0) {
        rgb = malloc((size_t)*w * (size_t)*h * 3);
        if (tjDecompress2(tj, jpeg, (unsigned long)len, rgb, *w, 0, *h, TJPF_RGB, 0) != 0) {
            fprintf(stderr, "tjDecompress2: %s\n", tjGetErrorStr2(tj));
            free(rgb);
            rgb = NULL;
        }
    }
    tjDestroy(tj);
    return rgb;
}

/* Mean absolute difference of two RGB pictures inside r. */
static double region_diff(const uint8_t *a, const uint8_t *b, int w, struct pattern_rect r)
{
    double sum = 0;
    for (int y = r.y; y < r.y + r.h; y++)
        for (int x = r.x * 3; x < (r.x + r.w) * 3; x++) {
            size_t i = (size_t)y * (size_t)w * 3 + (size_t)x;
            sum += abs((int)a[i] - (int)b[i]);
        }
    return sum / ((double)r.w * r.h * 3);
}

static void test_frames_are_deterministic(void)
{
    enum pattern_kind kinds[] = {PATTERN_BARS, PATTERN_GRADIENT, PATTERN_NOISE};
    for (size_t k = 0; k < 3; k++) {
        struct pattern_options o;
        pattern_options_default(&o);
        o.kind = kinds[k];
        size_t l1 = 0, l2 = 0, l3 = 0;
        uint8_t *a = make_frame(&o, 42, &l1);
        uint8_t *b = make_frame(&o, 42, &l2);
        uint8_t *c = make_frame(&o, 43, &l3);
        CHECK(a && b && c);
        if (a && b && c) {
            CHECK_EQ_INT(l1, l2);
            CHECK(l1 == l2 && memcmp(a, b, l1) == 0);
            CHECK(l1 != l3 || memcmp(a, c, l1) != 0);
        }
        free(a);
        free(b);
        free(c);
    }
}

static void test_reused_encoder_matches_fresh_one(void)
{
    struct pattern_options o;
    pattern_options_default(&o);
    o.kind = PATTERN_NOISE;
    struct pattern_encoder e;
    char msg[256];
    CHECK_EQ_INT(pattern_encoder_init(&e, &o, msg, sizeof msg), 0);
    uint8_t *j1, *j2;
    size_t l1, l2, lf;
    CHECK_EQ_INT(pattern_encode(&e, 9, &j1, &l1, msg, sizeof msg), 0);
    CHECK_EQ_INT(pattern_encode(&e, 10, &j2, &l2, msg, sizeof msg), 0);
    pattern_encoder_free(&e);
    uint8_t *fresh = make_frame(&o, 10, &lf);
    CHECK(fresh && lf == l2 && memcmp(fresh, j2, l2) == 0);
    free(j1);
    free(j2);
    free(fresh);
}

static void test_decodes_at_asked_size_as_420(void)
{
    static const int sizes[][2] = {{384, 288}, {320, 240}, {176, 144}, {648, 360}, {16, 16},
                                   {1920, 1080}, {2040, 24}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        struct pattern_options o;
        pattern_options_default(&o);
        o.width = sizes[i][0];
        o.height = sizes[i][1];
        size_t len = 0;
        uint8_t *jpeg = make_frame(&o, 1000 + (uint32_t)i, &len);
        if (!jpeg)
            continue;
        int w = 0, h = 0, ss = -1;
        uint8_t *rgb = decode(jpeg, len, &w, &h, &ss);
        CHECK(rgb != NULL);
        CHECK_EQ_INT(w, sizes[i][0]);
        CHECK_EQ_INT(h, sizes[i][1]);
        CHECK_EQ_INT(ss, TJSAMP_420);
        CHECK(len < PATTERN_MAX_FRAME);
        free(rgb);
        free(jpeg);
    }
}

static void test_baseline_standard_tables_for_rfc2435(void)
{
    struct pattern_options o;
    pattern_options_default(&o);
    o.quality = 95;
    size_t len;
    uint8_t *jpeg = make_frame(&o, 5, &len);
    if (!jpeg)
        return;
    struct jpeg_info info;
    struct wire_error err;
    CHECK(jpeg_parse(jpeg, len, &info, &err) > 0);
    CHECK_EQ_INT(info.sof_marker, JPEG_SOF0);
    CHECK(info.huffman_standard);
    CHECK_EQ_INT(info.restart_interval, 0);
    CHECK_EQ_INT(info.ncomponents, 3);
    CHECK_EQ_INT(info.comp[0].h, 2);
    CHECK_EQ_INT(info.comp[0].v, 2);
    CHECK_EQ_INT(info.comp[1].h, 1);
    CHECK(info.jfif);
    free(jpeg);
}

static void test_marker_carries_frame_number(void)
{
    struct pattern_options o;
    pattern_options_default(&o);
    static const uint32_t numbers[] = {1, 2, 9, 10, 99999, 100000, 4294967295u};
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        size_t len;
        uint8_t *jpeg = make_frame(&o, numbers[i], &len);
        if (!jpeg)
            continue;
        uint32_t n = 0;
        struct wire_error err;
        CHECK_EQ_INT(jpeg_frame_number(jpeg, len, &n, &err), 1);
        CHECK_EQ_INT(n, numbers[i]);
        /* the comment sits right after the 18-byte JFIF APP0, exact text, no NUL */
        CHECK(jpeg[2] == 0xFF && jpeg[3] == 0xE0);
        CHECK(jpeg[20] == 0xFF && jpeg[21] == 0xFE);
        char text[40];
        int tl = pattern_marker_text(numbers[i], text, sizeof text);
        CHECK_EQ_INT((jpeg[22] << 8) | jpeg[23], tl + 2);
        CHECK(memcmp(jpeg + 24, text, (size_t)tl) == 0);
        free(jpeg);
    }
    char text[40];
    pattern_marker_text(17, text, sizeof text);
    CHECK_STR(text, strlen(text), "rtsp-harness frame 17");
}

static void test_different_numbers_differ_in_number_box(void)
{
    static const uint32_t pairs[][2] = {{3, 8}, {12, 21}, {100, 101}, {1, 7}};
    for (size_t p = 0; p < 4; p++) {
        struct pattern_options o;
        pattern_options_default(&o);
        size_t la, lb;
        uint8_t *ja = make_frame(&o, pairs[p][0], &la);
        uint8_t *jb = make_frame(&o, pairs[p][1], &lb);
        int w, h, ss;
        uint8_t *a = ja ? decode(ja, la, &w, &h, &ss) : NULL;
        uint8_t *b = jb ? decode(jb, lb, &w, &h, &ss) : NULL;
        CHECK(a && b);
        if (a && b) {
            struct pattern_rect box = pattern_number_box(&o, pairs[p][0]);
            struct pattern_rect box2 = pattern_number_box(&o, pairs[p][1]);
            CHECK(box.x == box2.x && box.w == box2.w); /* same digit count, same box */
            /* a differing digit flips many whole glyph cells between black and white */
            CHECK(region_diff(a, b, w, box) > 10.0);
        }
        free(a);
        free(b);
        free(ja);
        free(jb);
    }
}

static void test_number_is_large(void)
{
    struct pattern_options o;
    pattern_options_default(&o);
    /* glyphs are 7 of the box's 9 cell rows: about 40% of the height */
    struct pattern_rect box = pattern_number_box(&o, 57);
    CHECK(box.h * 7 / 9 >= o.height * 35 / 100);
    CHECK(box.x >= 0 && box.x + box.w <= o.width);
    /* many digits still fit the width */
    box = pattern_number_box(&o, 4294967295u);
    CHECK(box.x >= 0 && box.x + box.w <= o.width);
}

static void test_number_box_is_black_and_white(void)
{
    struct pattern_options o;
    pattern_options_default(&o);
    o.kind = PATTERN_GRADIENT;
    uint8_t *rgb = malloc((size_t)o.width * o.height * 3);
    pattern_render_rgb(&o, 88, rgb);
    struct pattern_rect box = pattern_number_box(&o, 88);
    size_t black = 0, white = 0, other = 0;
    for (int y = box.y; y < box.y + box.h; y++)
        for (int x = box.x; x < box.x + box.w; x++) {
            const uint8_t *px = rgb + ((size_t)y * o.width + x) * 3;
            if (px[0] == 0 && px[1] == 0 && px[2] == 0)
                black++;
            else if (px[0] == 255 && px[1] == 255 && px[2] == 255)
                white++;
            else
                other++;
        }
    CHECK_EQ_INT(other, 0);
    CHECK(white > 0 && black > white);
    free(rgb);
}

static void test_moving_bar_moves(void)
{
    struct pattern_options o;
    pattern_options_default(&o);
    size_t n = (size_t)o.width * o.height * 3;
    uint8_t *a = malloc(n), *b = malloc(n);
    pattern_render_rgb(&o, 10, a);
    pattern_render_rgb(&o, 11, b);
    /* bottom row is the strip: white where the bar is */
    const uint8_t *ra = a + (size_t)(o.height - 1) * o.width * 3;
    const uint8_t *rb = b + (size_t)(o.height - 1) * o.width * 3;
    int first_a = -1, first_b = -1;
    for (int x = 0; x < o.width; x++) {
        if (first_a < 0 && ra[x * 3] == 255)
            first_a = x;
        if (first_b < 0 && rb[x * 3] == 255)
            first_b = x;
    }
    CHECK(first_a >= 0 && first_b >= 0);
    CHECK(first_a != first_b);
    free(a);
    free(b);
}

static void test_option_errors(void)
{
    struct pattern_options o;
    char msg[256];
    static const int bad_sizes[][2] = {{385, 288}, {384, 290}, {2048, 288}, {8, 8}, {0, 0},
                                       {384, 2048}};
    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        pattern_options_default(&o);
        o.width = bad_sizes[i][0];
        o.height = bad_sizes[i][1];
        msg[0] = '\0';
        CHECK_EQ_INT(pattern_check_options(&o, msg, sizeof msg), -1);
        CHECK(strstr(msg, "multiples of 8") != NULL);
        struct pattern_encoder e;
        CHECK_EQ_INT(pattern_encoder_init(&e, &o, msg, sizeof msg), -1);
    }
    pattern_options_default(&o);
    o.width = 2040;
    o.height = 2040;
    CHECK_EQ_INT(pattern_check_options(&o, msg, sizeof msg), 0);
    pattern_options_default(&o);
    o.quality = 0;
    CHECK_EQ_INT(pattern_check_options(&o, msg, sizeof msg), -1);
    CHECK(strstr(msg, "quality 0") != NULL);
    o.quality = 101;
    CHECK_EQ_INT(pattern_check_options(&o, msg, sizeof msg), -1);

    enum pattern_kind k = PATTERN_BARS;
    CHECK_EQ_INT(pattern_kind_parse("noise", &k), 0);
    CHECK_EQ_INT(k, PATTERN_NOISE);
    CHECK_EQ_INT(pattern_kind_parse("gradient", &k), 0);
    CHECK_EQ_INT(k, PATTERN_GRADIENT);
    CHECK_EQ_INT(pattern_kind_parse("Bars", &k), -1);
    CHECK_STR(pattern_kind_name(PATTERN_BARS), 4, "bars");
}

static void test_oversized_frame_is_refused_with_advice(void)
{
    struct pattern_options o;
    pattern_options_default(&o);
    o.width = 1024;
    o.height = 768;
    o.quality = 100;
    o.kind = PATTERN_NOISE;
    struct pattern_encoder e;
    char msg[256] = "";
    CHECK_EQ_INT(pattern_encoder_init(&e, &o, msg, sizeof msg), 0);
    uint8_t *jpeg = (uint8_t *)&e; /* must be reset to NULL on failure */
    size_t len = 1;
    CHECK_EQ_INT(pattern_encode(&e, 31, &jpeg, &len, msg, sizeof msg), -1);
    CHECK(jpeg == NULL);
    CHECK(strstr(msg, "frame 31:") == msg);
    CHECK(strstr(msg, "lower --quality") != NULL);
    pattern_encoder_free(&e);
}

static void test_turbojpeg_environment_is_refused(void)
{
    struct pattern_options o;
    pattern_options_default(&o);
    struct pattern_encoder e;
    char msg[256] = "";
    setenv("TJ_OPTIMIZE", "1", 1);
    CHECK_EQ_INT(pattern_encoder_init(&e, &o, msg, sizeof msg), -1);
    CHECK(strstr(msg, "TJ_OPTIMIZE") != NULL);
    unsetenv("TJ_OPTIMIZE");
    CHECK_EQ_INT(pattern_encoder_init(&e, &o, msg, sizeof msg), 0);
    pattern_encoder_free(&e);
}

static void test_writer_reader_pipeline_50_frames(void)
{
    struct pattern_options o;
    pattern_options_default(&o);
    struct pattern_encoder e;
    char msg[256];
    CHECK_EQ_INT(pattern_encoder_init(&e, &o, msg, sizeof msg), 0);
    struct mjpeg_writer w;
    mjpeg_writer_init_mem(&w);
    size_t lens[50];
    for (uint32_t i = 0; i < 50; i++) {
        uint8_t *jpeg;
        CHECK_EQ_INT(pattern_encode(&e, i + 1, &jpeg, &lens[i], msg, sizeof msg), 0);
        CHECK_EQ_INT(mjpeg_writer_add(&w, jpeg, lens[i]), 0);
        free(jpeg);
    }
    pattern_encoder_free(&e);

    struct mjpeg_reader r;
    mjpeg_reader_init(&r, w.buf, w.len);
    const uint8_t *frame;
    size_t frame_len;
    size_t count = 0;
    tjhandle tj = tjInitDecompress();
    uint8_t *rgb = malloc((size_t)o.width * o.height * 3);
    while (mjpeg_next(&r, &frame, &frame_len, NULL) == 1) {
        CHECK(count < 50 && frame_len == lens[count]);
        uint32_t n = 0;
        CHECK_EQ_INT(jpeg_frame_number(frame, frame_len, &n, NULL), 1);
        CHECK_EQ_INT(n, count + 1);
        CHECK_EQ_INT(tjDecompress2(tj, frame, (unsigned long)frame_len, rgb, o.width, 0, o.height,
                                   TJPF_RGB, 0),
                     0);
        count++;
    }
    CHECK_EQ_INT(mjpeg_next(&r, &frame, &frame_len, NULL), 0);
    CHECK_EQ_INT(count, 50);
    free(rgb);
    tjDestroy(tj);
    mjpeg_writer_free(&w);
}

int main(void)
{
    unsetenv("TJ_OPTIMIZE");
    unsetenv("TJ_ARITHMETIC");
    unsetenv("TJ_RESTART");
    unsetenv("TJ_PROGRESSIVE");
    RUN(test_frames_are_deterministic);
    RUN(test_reused_encoder_matches_fresh_one);
    RUN(test_decodes_at_asked_size_as_420);
    RUN(test_baseline_standard_tables_for_rfc2435);
    RUN(test_marker_carries_frame_number);
    RUN(test_different_numbers_differ_in_number_box);
    RUN(test_number_is_large);
    RUN(test_number_box_is_black_and_white);
    RUN(test_moving_bar_moves);
    RUN(test_option_errors);
    RUN(test_oversized_frame_is_refused_with_advice);
    RUN(test_turbojpeg_environment_is_refused);
    RUN(test_writer_reader_pipeline_50_frames);
    CHECK_DONE();
}
