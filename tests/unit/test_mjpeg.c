/* Unit tests for the lab .Mjpeg reader and writer: every error the reader
 * can report (with its frame index and byte offset), the message format,
 * the incremental record parser, lenient mode and writer round trips. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "mjpeg.h"

/* A fake JPEG of n bytes (n >= 2): SOI then a recognisable fill. */
static uint8_t *fake_jpeg(size_t n, uint8_t fill)
{
    uint8_t *p = malloc(n);
    memset(p, fill, n);
    p[0] = 0xFF;
    p[1] = 0xD8;
    return p;
}

/* Build a file image from a string with embedded NULs allowed (explicit length). */
struct image {
    uint8_t bytes[256]; /* file contents */
    size_t len;         /* bytes used */
};

static void img_add(struct image *im, const void *p, size_t n)
{
    memcpy(im->bytes + im->len, p, n);
    im->len += n;
}

/* Append a well-formed record of n JPEG bytes. */
static void img_frame(struct image *im, size_t n)
{
    char field[8];
    snprintf(field, sizeof field, "%05zu", n);
    img_add(im, field, 5);
    uint8_t *j = fake_jpeg(n, (uint8_t)('a' + im->len % 26));
    img_add(im, j, n);
    free(j);
}

/* Read all frames; returns the final mjpeg_next result and the frame count. */
static int read_all(struct mjpeg_reader *r, size_t *frames, struct wire_error *err)
{
    const uint8_t *f;
    size_t fl;
    int rc;
    *frames = 0;
    while ((rc = mjpeg_next(r, &f, &fl, err)) == 1) {
        CHECK(f >= r->buf && f + fl <= r->buf + r->len);
        (*frames)++;
    }
    return rc;
}

static void test_reads_well_formed_frames(void)
{
    struct image im = {{0}, 0};
    img_frame(&im, 10);
    img_frame(&im, 3);
    img_frame(&im, 20);
    struct mjpeg_reader r;
    mjpeg_reader_init(&r, im.bytes, im.len);
    const uint8_t *f;
    size_t fl;
    struct wire_error e;
    CHECK_EQ_INT(mjpeg_next(&r, &f, &fl, &e), 1);
    CHECK_EQ_INT(fl, 10);
    CHECK(f == im.bytes + 5);
    CHECK_EQ_INT(mjpeg_next(&r, &f, &fl, &e), 1);
    CHECK_EQ_INT(fl, 3);
    CHECK(f == im.bytes + 20);
    CHECK_EQ_INT(mjpeg_next(&r, &f, &fl, &e), 1);
    CHECK_EQ_INT(fl, 20);
    CHECK_EQ_INT(mjpeg_next(&r, &f, &fl, &e), 0);
    CHECK_EQ_INT(mjpeg_next(&r, &f, &fl, &e), 0); /* end stays end */
    CHECK_EQ_INT(r.index, 3);
    CHECK_EQ_INT(r.offset, im.len);
}

static void test_empty_file_is_clean_end(void)
{
    struct mjpeg_reader r;
    mjpeg_reader_init(&r, (const uint8_t *)"", 0);
    const uint8_t *f;
    size_t fl;
    CHECK_EQ_INT(mjpeg_next(&r, &f, &fl, NULL), 0);
}

static void test_error_length_not_digits(void)
{
    struct image im = {{0}, 0};
    img_frame(&im, 10); /* bytes 0..14 */
    img_frame(&im, 4);  /* bytes 15..23 */
    img_add(&im, "12a45", 5); /* frame 2 at byte 24 */
    uint8_t *j = fake_jpeg(20, 'x');
    img_add(&im, j, 20);
    free(j);
    struct mjpeg_reader r;
    mjpeg_reader_init(&r, im.bytes, im.len);
    size_t frames;
    struct wire_error e = {0, NULL};
    CHECK_EQ_INT(read_all(&r, &frames, &e), WIRE_ERROR);
    CHECK_EQ_INT(frames, 2);
    CHECK_EQ_INT(r.index, 2);
    CHECK_EQ_INT(e.offset, 24);
    CHECK(e.reason && strstr(e.reason, "5 decimal digits"));
    char msg[200];
    mjpeg_format_error(&r, "movie.Mjpeg", msg, sizeof msg);
    CHECK_STR(msg, strlen(msg),
              "movie.Mjpeg: frame 2 at byte 24: length field \"12a45\" is not 5 decimal digits");
    /* the error is sticky */
    const uint8_t *f;
    size_t fl;
    struct wire_error e2 = {0, NULL};
    CHECK_EQ_INT(mjpeg_next(&r, &f, &fl, &e2), WIRE_ERROR);
    CHECK_EQ_INT(e2.offset, 24);
}

static void test_error_length_quotes_unprintable_bytes(void)
{
    static const uint8_t buf[] = {'0', '0', 0x00, '1', '\n', 0xFF, 0xD8};
    struct mjpeg_reader r;
    mjpeg_reader_init(&r, buf, sizeof buf);
    const uint8_t *f;
    size_t fl;
    CHECK_EQ_INT(mjpeg_next(&r, &f, &fl, NULL), WIRE_ERROR);
    char msg[200];
    mjpeg_format_error(&r, "x", msg, sizeof msg);
    CHECK_STR(msg, strlen(msg),
              "x: frame 0 at byte 0: length field \"00\\x001\\x0a\" is not 5 decimal digits");
}

static void test_strict_rejects_space_padding(void)
{
    static const uint8_t buf[] = {' ', ' ', ' ', ' ', '2', 0xFF, 0xD8};
    struct mjpeg_reader r;
    mjpeg_reader_init(&r, buf, sizeof buf);
    const uint8_t *f;
    size_t fl;
    struct wire_error e = {0, NULL};
    CHECK_EQ_INT(mjpeg_next(&r, &f, &fl, &e), WIRE_ERROR);
    CHECK_EQ_INT(e.offset, 0);
    CHECK_EQ_INT(r.index, 0);
}

static void test_lenient_accepts_space_padding_and_counts_it(void)
{
    static const uint8_t buf[] = {' ', ' ', ' ', ' ', '2', 0xFF, 0xD8, '2', ' ', ' ', ' ',
                                  ' ', 0xFF, 0xD8, '0', '0', '0', '0', '2', 0xFF, 0xD8};
    struct mjpeg_reader r;
    mjpeg_reader_init(&r, buf, sizeof buf);
    r.lenient = true;
    size_t frames;
    struct wire_error e;
    CHECK_EQ_INT(read_all(&r, &frames, &e), 0);
    CHECK_EQ_INT(frames, 3);
    CHECK_EQ_INT(r.forgiven, 2);
}

static void test_lenient_still_rejects_inner_space_and_all_spaces(void)
{
    static const uint8_t inner[] = {' ', '1', ' ', '2', ' ', 0xFF, 0xD8};
    static const uint8_t blank[] = {' ', ' ', ' ', ' ', ' ', 0xFF, 0xD8};
    struct mjpeg_reader r;
    const uint8_t *f;
    size_t fl;
    mjpeg_reader_init(&r, inner, sizeof inner);
    r.lenient = true;
    CHECK_EQ_INT(mjpeg_next(&r, &f, &fl, NULL), WIRE_ERROR);
    char msg[200];
    mjpeg_format_error(&r, "m", msg, sizeof msg);
    CHECK(strstr(msg, "even space-padded") != NULL);
    mjpeg_reader_init(&r, blank, sizeof blank);
    r.lenient = true;
    CHECK_EQ_INT(mjpeg_next(&r, &f, &fl, NULL), WIRE_ERROR);
}

static void test_error_zero_length(void)
{
    struct image im = {{0}, 0};
    img_frame(&im, 7);
    img_add(&im, "00000", 5); /* frame 1 at byte 12 */
    img_frame(&im, 7);
    struct mjpeg_reader r;
    mjpeg_reader_init(&r, im.bytes, im.len);
    size_t frames;
    struct wire_error e = {0, NULL};
    CHECK_EQ_INT(read_all(&r, &frames, &e), WIRE_ERROR);
    CHECK_EQ_INT(frames, 1);
    CHECK_EQ_INT(r.index, 1);
    CHECK_EQ_INT(e.offset, 12);
    char msg[200];
    mjpeg_format_error(&r, "z.Mjpeg", msg, sizeof msg);
    CHECK_STR(msg, strlen(msg), "z.Mjpeg: frame 1 at byte 12: frame length is zero");
}

static void test_error_truncated_frame(void)
{
    struct image im = {{0}, 0};
    img_frame(&im, 6);
    img_frame(&im, 6);
    img_add(&im, "00050", 5); /* frame 2 at byte 22, says 50, 12 remain */
    uint8_t *j = fake_jpeg(12, 'q');
    img_add(&im, j, 12);
    free(j);
    struct mjpeg_reader r;
    mjpeg_reader_init(&r, im.bytes, im.len);
    size_t frames;
    struct wire_error e = {0, NULL};
    CHECK_EQ_INT(read_all(&r, &frames, &e), WIRE_ERROR);
    CHECK_EQ_INT(frames, 2);
    CHECK_EQ_INT(e.offset, 22);
    char msg[200];
    mjpeg_format_error(&r, "t.Mjpeg", msg, sizeof msg);
    CHECK_STR(msg, strlen(msg),
              "t.Mjpeg: frame 2 at byte 22: truncated frame (length says 50, only 12 bytes remain)");
}

static void test_error_truncated_right_after_length_field(void)
{
    static const uint8_t buf[] = {'0', '0', '0', '0', '9'};
    struct mjpeg_reader r;
    mjpeg_reader_init(&r, buf, sizeof buf);
    const uint8_t *f;
    size_t fl;
    struct wire_error e = {0, NULL};
    CHECK_EQ_INT(mjpeg_next(&r, &f, &fl, &e), WIRE_ERROR);
    CHECK_EQ_INT(e.offset, 0);
    CHECK(strstr(r.detail, "length says 9, only 0 bytes remain") != NULL);
}

static void test_error_missing_soi(void)
{
    struct image im = {{0}, 0};
    img_frame(&im, 5);
    img_add(&im, "00004", 5); /* frame 1 at byte 10, JPEG at byte 15 */
    img_add(&im, "\xFF\xD9\xFF\xD8", 4);
    struct mjpeg_reader r;
    mjpeg_reader_init(&r, im.bytes, im.len);
    size_t frames;
    struct wire_error e = {0, NULL};
    CHECK_EQ_INT(read_all(&r, &frames, &e), WIRE_ERROR);
    CHECK_EQ_INT(frames, 1);
    CHECK_EQ_INT(r.index, 1);
    CHECK_EQ_INT(e.offset, 15);
    char msg[200];
    mjpeg_format_error(&r, "s.Mjpeg", msg, sizeof msg);
    CHECK_STR(msg, strlen(msg),
              "s.Mjpeg: frame 1 at byte 15: frame does not start with SOI FFD8 (found FFD9)");
}

static void test_error_missing_soi_one_byte_left(void)
{
    static const uint8_t buf[] = {'0', '0', '0', '0', '3', 'J'};
    struct mjpeg_reader r;
    mjpeg_reader_init(&r, buf, sizeof buf);
    const uint8_t *f;
    size_t fl;
    struct wire_error e = {0, NULL};
    CHECK_EQ_INT(mjpeg_next(&r, &f, &fl, &e), WIRE_ERROR);
    CHECK_EQ_INT(e.offset, 5);
    CHECK(strstr(r.detail, "found 4A, then end of file") != NULL);
}

static void test_error_one_byte_frame(void)
{
    static const uint8_t buf[] = {'0', '0', '0', '0', '1', 0xFF, 0xD8};
    struct mjpeg_reader r;
    mjpeg_reader_init(&r, buf, sizeof buf);
    const uint8_t *f;
    size_t fl;
    struct wire_error e = {0, NULL};
    CHECK_EQ_INT(mjpeg_next(&r, &f, &fl, &e), WIRE_ERROR);
    CHECK_EQ_INT(e.offset, 5);
    CHECK(strstr(r.detail, "length field says 1 byte") != NULL);
}

static void test_error_trailing_garbage(void)
{
    struct image im = {{0}, 0};
    img_frame(&im, 8);
    img_frame(&im, 8);
    img_add(&im, "\n\n1", 3); /* at byte 26, frame 2 */
    struct mjpeg_reader r;
    mjpeg_reader_init(&r, im.bytes, im.len);
    size_t frames;
    struct wire_error e = {0, NULL};
    CHECK_EQ_INT(read_all(&r, &frames, &e), WIRE_ERROR);
    CHECK_EQ_INT(frames, 2);
    CHECK_EQ_INT(e.offset, 26);
    CHECK(e.reason && strstr(e.reason, "trailing garbage"));
    char msg[200];
    mjpeg_format_error(&r, "g.Mjpeg", msg, sizeof msg);
    CHECK_STR(msg, strlen(msg),
              "g.Mjpeg: frame 2 at byte 26: trailing garbage shorter than a length field "
              "(3 bytes: \"\\x0a\\x0a1\")");
}

static void test_format_error_truncates_safely(void)
{
    static const uint8_t buf[] = {'x'};
    struct mjpeg_reader r;
    mjpeg_reader_init(&r, buf, sizeof buf);
    const uint8_t *f;
    size_t fl;
    CHECK_EQ_INT(mjpeg_next(&r, &f, &fl, NULL), WIRE_ERROR);
    char small[10];
    int n = mjpeg_format_error(&r, "file", small, sizeof small);
    CHECK(n > (int)sizeof small);
    CHECK_EQ_INT(strlen(small), sizeof small - 1);
}

static void test_parse_record_incremental(void)
{
    static const uint8_t rec[] = {'0', '0', '0', '0', '4', 0xFF, 0xD8, 0x01, 0x02, '0'};
    const uint8_t *f = NULL;
    size_t fl = 0;
    struct wire_error e;
    for (size_t n = 0; n < 9; n++)
        CHECK_EQ_INT(mjpeg_parse_record(rec, n, false, &f, &fl, &e), WIRE_INCOMPLETE);
    CHECK_EQ_INT(mjpeg_parse_record(rec, 9, false, &f, &fl, &e), 9);
    CHECK_EQ_INT(mjpeg_parse_record(rec, sizeof rec, false, &f, &fl, &e), 9);
    CHECK(f == rec + 5);
    CHECK_EQ_INT(fl, 4);
    /* a bad byte is an error as soon as it is seen, not after 5 bytes */
    CHECK_EQ_INT(mjpeg_parse_record((const uint8_t *)"0x", 2, false, &f, &fl, &e), WIRE_ERROR);
    CHECK_EQ_INT(e.offset, 0);
    /* likewise a wrong first JPEG byte */
    CHECK_EQ_INT(mjpeg_parse_record((const uint8_t *)"00009A", 6, false, &f, &fl, &e),
                 WIRE_ERROR);
    CHECK_EQ_INT(e.offset, 5);
}

static void test_writer_round_trip_memory(void)
{
    struct mjpeg_writer w;
    mjpeg_writer_init_mem(&w);
    size_t sizes[] = {2, 100, 9999, 99999, 12345};
    for (size_t i = 0; i < 5; i++) {
        uint8_t *j = fake_jpeg(sizes[i], (uint8_t)i);
        CHECK_EQ_INT(mjpeg_writer_add(&w, j, sizes[i]), 0);
        free(j);
    }
    CHECK_EQ_INT(w.frames, 5);
    CHECK(memcmp(w.buf, "00002", 5) == 0);
    CHECK(memcmp(w.buf + 7, "00100", 5) == 0);
    struct mjpeg_reader r;
    mjpeg_reader_init(&r, w.buf, w.len);
    const uint8_t *f;
    size_t fl;
    for (size_t i = 0; i < 5; i++) {
        CHECK_EQ_INT(mjpeg_next(&r, &f, &fl, NULL), 1);
        CHECK_EQ_INT(fl, sizes[i]);
        CHECK(f[0] == 0xFF && f[1] == 0xD8);
        if (fl > 2)
            CHECK_EQ_INT(f[fl - 1], i);
    }
    CHECK_EQ_INT(mjpeg_next(&r, &f, &fl, NULL), 0);
    mjpeg_writer_free(&w);
}

static void test_writer_refuses_oversized_frame(void)
{
    struct mjpeg_writer w;
    mjpeg_writer_init_mem(&w);
    uint8_t *small = fake_jpeg(10, 1);
    uint8_t *big = fake_jpeg(100000, 2);
    CHECK_EQ_INT(mjpeg_writer_add(&w, small, 10), 0);
    CHECK_EQ_INT(mjpeg_writer_add(&w, small, 10), 0);
    size_t before = w.len;
    CHECK_EQ_INT(mjpeg_writer_add(&w, big, 100000), -1);
    CHECK_EQ_INT(w.len, before); /* nothing written */
    CHECK(strstr(w.error, "frame 2:") == w.error);
    CHECK(strstr(w.error, "100000 bytes") != NULL);
    CHECK_EQ_INT(w.frames, 2);
    free(small);
    free(big);
    mjpeg_writer_free(&w);
}

static void test_writer_refuses_empty_and_non_jpeg(void)
{
    struct mjpeg_writer w;
    mjpeg_writer_init_mem(&w);
    CHECK_EQ_INT(mjpeg_writer_add(&w, (const uint8_t *)"", 0), -1);
    CHECK(strstr(w.error, "frame 0: empty") != NULL);
    CHECK_EQ_INT(mjpeg_writer_add(&w, (const uint8_t *)"GIF89a", 6), -1);
    CHECK(strstr(w.error, "SOI") != NULL);
    CHECK_EQ_INT(mjpeg_writer_add(&w, (const uint8_t *)"\xFF", 1), -1);
    CHECK_EQ_INT(w.len, 0);
    mjpeg_writer_free(&w);
}

static void test_writer_file_and_read_file(void)
{
    char path[] = "/tmp/test_mjpeg_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    FILE *fp = fdopen(fd, "wb");
    struct mjpeg_writer w;
    mjpeg_writer_init_file(&w, fp);
    for (size_t i = 0; i < 30; i++) {
        uint8_t *j = fake_jpeg(1000 + i * 37, (uint8_t)i);
        CHECK_EQ_INT(mjpeg_writer_add(&w, j, 1000 + i * 37), 0);
        free(j);
    }
    CHECK_EQ_INT(fclose(fp), 0);

    uint8_t *data;
    size_t len;
    char msg[200];
    CHECK_EQ_INT(mjpeg_read_file(path, 10u << 20, &data, &len, msg, sizeof msg), 0);
    struct mjpeg_reader r;
    mjpeg_reader_init(&r, data, len);
    size_t frames;
    struct wire_error e;
    CHECK_EQ_INT(read_all(&r, &frames, &e), 0);
    CHECK_EQ_INT(frames, 30);
    free(data);

    /* the size limit is enforced and named */
    CHECK_EQ_INT(mjpeg_read_file(path, 1000, &data, &len, msg, sizeof msg), -1);
    CHECK(strstr(msg, "larger than the limit of 1000 bytes") != NULL);
    CHECK(data == NULL);
    unlink(path);

    CHECK_EQ_INT(mjpeg_read_file("/nonexistent/x.Mjpeg", 100, &data, &len, msg, sizeof msg), -1);
    CHECK(strstr(msg, "/nonexistent/x.Mjpeg: ") == msg);
}

int main(void)
{
    RUN(test_reads_well_formed_frames);
    RUN(test_empty_file_is_clean_end);
    RUN(test_error_length_not_digits);
    RUN(test_error_length_quotes_unprintable_bytes);
    RUN(test_strict_rejects_space_padding);
    RUN(test_lenient_accepts_space_padding_and_counts_it);
    RUN(test_lenient_still_rejects_inner_space_and_all_spaces);
    RUN(test_error_zero_length);
    RUN(test_error_truncated_frame);
    RUN(test_error_truncated_right_after_length_field);
    RUN(test_error_missing_soi);
    RUN(test_error_missing_soi_one_byte_left);
    RUN(test_error_one_byte_frame);
    RUN(test_error_trailing_garbage);
    RUN(test_format_error_truncates_safely);
    RUN(test_parse_record_incremental);
    RUN(test_writer_round_trip_memory);
    RUN(test_writer_refuses_oversized_frame);
    RUN(test_writer_refuses_empty_and_non_jpeg);
    RUN(test_writer_file_and_read_file);
    CHECK_DONE();
}
