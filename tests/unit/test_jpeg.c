/* Unit tests for the JPEG marker-segment parser (jpeg.c): what it reports
 * for libjpeg-turbo frames, the frame identity comment, the Annex K.3
 * Huffman check, and every error path with its offset. */
#include <stdint.h>
#include <turbojpeg.h>

#include "check.h"
#include "jpeg.h"

/* ---- making JPEGs ---- */

static uint8_t *compress(int w, int h, int subsamp, int quality, int flags, size_t *len)
{
    tjhandle tj = tjInitCompress();
    uint8_t *rgb = malloc((size_t)w * (size_t)h * 3);
    for (int i = 0; i < w * h * 3; i++)
        rgb[i] = (uint8_t)(i * 7 + (i / (w * 3)) * 13);
    unsigned char *jpeg = NULL;
    unsigned long jlen = 0;
    if (tjCompress2(tj, rgb, w, 0, h, TJPF_RGB, &jpeg, &jlen, subsamp, quality, flags) != 0)
        abort();
    uint8_t *out = malloc(jlen);
    memcpy(out, jpeg, jlen);
    tjFree(jpeg);
    free(rgb);
    tjDestroy(tj);
    *len = jlen;
    return out;
}

/* A growing byte buffer for hand-built JPEGs. */
struct buf {
    uint8_t b[4096]; /* bytes */
    size_t n;        /* used */
};

static void put(struct buf *b, const void *p, size_t n)
{
    memcpy(b->b + b->n, p, n);
    b->n += n;
}

static void put_seg(struct buf *b, uint8_t marker, const uint8_t *payload, size_t n)
{
    uint8_t h[4] = {0xFF, marker, (uint8_t)((n + 2) >> 8), (uint8_t)(n + 2)};
    put(b, h, 4);
    put(b, payload, n);
}

/* Pieces of a minimal grayscale baseline JPEG, each replaceable. */
static const uint8_t SOI[2] = {0xFF, 0xD8};
static const uint8_t EOI[2] = {0xFF, 0xD9};
static const uint8_t SOF_GRAY[9] = {8, 0, 16, 0, 16, 1, 1, 0x11, 0};
static const uint8_t SOS_GRAY[6] = {1, 1, 0x00, 0, 63, 0};
static const uint8_t SCAN[4] = {0x12, 0xFF, 0x00, 0x34};

static void put_dqt(struct buf *b)
{
    uint8_t q[65];
    q[0] = 0;
    memset(q + 1, 1, 64);
    put_seg(b, JPEG_DQT, q, sizeof q);
}

/* SOI DQT SOF SOS scan EOI, with sof/sos replaceable. */
static size_t minimal(struct buf *b, const uint8_t *sof, size_t sof_len, const uint8_t *sos, size_t sos_len)
{
    b->n = 0;
    put(b, SOI, 2);
    put_dqt(b);
    put_seg(b, JPEG_SOF0, sof, sof_len);
    put_seg(b, JPEG_SOS, sos, sos_len);
    put(b, SCAN, sizeof SCAN);
    put(b, EOI, 2);
    return b->n;
}

/* Expect WIRE_ERROR with a reason containing want at offset at. */
static void expect_err(const uint8_t *p, size_t len, const char *want, size_t at, int line)
{
    struct jpeg_info info;
    struct wire_error err = {0, NULL};
    int rc = jpeg_parse(p, len, &info, &err);
    if (rc != WIRE_ERROR || !err.reason || !strstr(err.reason, want) || err.offset != at) {
        fprintf(stderr, "line %d: expected \"%s\" at %zu, got rc %d \"%s\" at %zu\n", line, want, at,
                rc, err.reason ? err.reason : "(null)", err.offset);
        check_failures++;
    }
}
#define EXPECT_ERR(p, len, want, at) expect_err((p), (len), (want), (at), __LINE__)

/* ---- tests ---- */

static void test_turbojpeg_420(void)
{
    size_t len;
    uint8_t *j = compress(384, 288, TJSAMP_420, 75, 0, &len);
    struct jpeg_info info;
    struct wire_error err;
    CHECK_EQ_INT(jpeg_parse(j, len, &info, &err), len);
    CHECK_EQ_INT(info.sof_marker, JPEG_SOF0);
    CHECK_EQ_INT(info.precision, 8);
    CHECK_EQ_INT(info.width, 384);
    CHECK_EQ_INT(info.height, 288);
    CHECK_EQ_INT(info.ncomponents, 3);
    for (int c = 0; c < 3; c++) {
        CHECK_EQ_INT(info.comp[c].id, c + 1);
        CHECK_EQ_INT(info.comp[c].h, c == 0 ? 2 : 1);
        CHECK_EQ_INT(info.comp[c].v, c == 0 ? 2 : 1);
        CHECK_EQ_INT(info.comp[c].tq, c == 0 ? 0 : 1);
        CHECK_EQ_INT(info.comp[c].td, c == 0 ? 0 : 1);
        CHECK_EQ_INT(info.comp[c].ta, c == 0 ? 0 : 1);
        CHECK(info.comp[c].in_scan);
        CHECK_EQ_INT(info.comp[c].scan_pos, c);
    }
    CHECK(info.qt[0].defined && info.qt[1].defined && !info.qt[2].defined);
    CHECK_EQ_INT(info.qt[0].precision, 0);
    CHECK_EQ_INT(info.qt[0].value[0], 8);  /* K.1 16 scaled by 50% */
    CHECK_EQ_INT(info.restart_interval, 0);
    CHECK(info.huffman_standard);
    CHECK_EQ_INT(info.dht_defined, 0x33);
    CHECK_EQ_INT(info.scan_count, 1);
    CHECK_EQ_INT(info.scan_ncomponents, 3);
    CHECK(info.jfif);
    CHECK(info.scan.len > 1000);
    CHECK_EQ_INT((const uint8_t *)info.scan.ptr + info.scan.len - j, info.eoi_offset);
    CHECK_EQ_INT(info.eoi_offset, len - 2);
    CHECK_EQ_INT(j[info.sos_offset + 1], JPEG_SOS);
    CHECK_EQ_INT(info.comment_count, 0);
    CHECK(!info.has_frame_number);
    free(j);
}

static void test_turbojpeg_422_and_gray(void)
{
    size_t len;
    uint8_t *j = compress(176, 144, TJSAMP_422, 95, 0, &len);
    struct jpeg_info info;
    struct wire_error err;
    CHECK_EQ_INT(jpeg_parse(j, len, &info, &err), len);
    CHECK_EQ_INT(info.comp[0].h, 2);
    CHECK_EQ_INT(info.comp[0].v, 1);
    CHECK(info.huffman_standard);
    free(j);
    j = compress(64, 48, TJSAMP_GRAY, 50, 0, &len);
    CHECK_EQ_INT(jpeg_parse(j, len, &info, &err), len);
    CHECK_EQ_INT(info.ncomponents, 1);
    CHECK_EQ_INT(info.scan_ncomponents, 1);
    CHECK(info.huffman_standard);
    CHECK_EQ_INT(info.dht_defined, 0x11);
    free(j);
}

static void test_every_truncation_is_an_error(void)
{
    size_t len;
    uint8_t *j = compress(32, 32, TJSAMP_420, 75, 0, &len);
    struct jpeg_info info;
    struct wire_error err;
    int bad = 0;
    for (size_t n = 0; n < len; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exact size so ASan sees any over-read */
        memcpy(copy, j, n);
        err.reason = NULL;
        if (jpeg_parse(copy, n, &info, &err) != WIRE_ERROR || !err.reason || err.offset > n)
            bad++;
        free(copy);
    }
    CHECK_EQ_INT(bad, 0);
    free(j);
}

static void test_trailing_bytes_and_fill(void)
{
    struct buf b;
    size_t n = minimal(&b, SOF_GRAY, sizeof SOF_GRAY, SOS_GRAY, sizeof SOS_GRAY);
    struct jpeg_info info;
    struct wire_error err;
    CHECK_EQ_INT(jpeg_parse(b.b, n, &info, &err), n);
    /* The scan keeps its stuffing: 12 FF 00 34. */
    CHECK(info.scan.len == 4 && memcmp(info.scan.ptr, SCAN, 4) == 0);
    /* Bytes after EOI are not consumed. */
    b.b[n] = 0xAB;
    b.b[n + 1] = 0xCD;
    CHECK_EQ_INT(jpeg_parse(b.b, n + 2, &info, &err), n);
    /* Fill bytes before a marker, TEM, RSTn and fill inside the scan are fine. */
    b.n = 0;
    put(&b, SOI, 2);
    put(&b, (const uint8_t[]){0xFF, 0xFF, 0xFF, 0x01}, 4);
    put_dqt(&b);
    put(&b, (const uint8_t[]){0xFF}, 1);
    put_seg(&b, JPEG_SOF0, SOF_GRAY, sizeof SOF_GRAY);
    put_seg(&b, JPEG_SOS, SOS_GRAY, sizeof SOS_GRAY);
    put(&b, (const uint8_t[]){0x01, 0xFF, 0xD0, 0x02, 0xFF, 0xFF, 0xD7, 0x03, 0xFF, 0xFF, 0xD9}, 11);
    CHECK_EQ_INT(jpeg_parse(b.b, b.n, &info, &err), b.n);
    CHECK_EQ_INT(info.scan.len, 8);
    CHECK_EQ_INT(info.eoi_offset, b.n - 3);
}

static void test_huffman_standard_detection(void)
{
    size_t len;
    uint8_t *j = compress(64, 64, TJSAMP_420, 75, 0, &len);
    struct jpeg_info info;
    struct wire_error err;
    /* Each standard table written by libjpeg-turbo is recognised; changing one
     * symbol of any of them is noticed. */
    for (int t = 0; t < 4; t++) {
        uint8_t key[17];
        key[0] = (uint8_t)((t / 2) << 4 | (t % 2));
        memcpy(key + 1, jpeg_std_huffman[t].bits, 16);
        uint8_t *at = memmem(j, len, key, sizeof key);
        CHECK(at != NULL);
        if (!at)
            continue;
        uint8_t save = at[17 + 5];
        at[17 + 5] ^= 0x40;
        CHECK_EQ_INT(jpeg_parse(j, len, &info, &err), len);
        CHECK(!info.huffman_standard);
        at[17 + 5] = save;
        CHECK_EQ_INT(jpeg_parse(j, len, &info, &err), len);
        CHECK(info.huffman_standard);
    }
    free(j);
    /* No DHT at all (Motion-JPEG style): the decoder's defaults are Annex K.3. */
    struct buf b;
    size_t n = minimal(&b, SOF_GRAY, sizeof SOF_GRAY, SOS_GRAY, sizeof SOS_GRAY);
    CHECK_EQ_INT(jpeg_parse(b.b, n, &info, &err), n);
    CHECK(info.huffman_standard);
    CHECK_EQ_INT(info.dht_defined, 0);
    /* A scan selecting Huffman slot 2 cannot be standard. */
    uint8_t sos[6];
    memcpy(sos, SOS_GRAY, 6);
    sos[2] = 0x22;
    n = minimal(&b, SOF_GRAY, sizeof SOF_GRAY, sos, sizeof sos);
    CHECK_EQ_INT(jpeg_parse(b.b, n, &info, &err), n);
    CHECK(!info.huffman_standard);
    /* A DHT defining slot 3 with the DC luma table is not standard either. */
    b.n = 0;
    put(&b, SOI, 2);
    uint8_t dht[1 + 16 + 12];
    dht[0] = 0x03;
    memcpy(dht + 1, jpeg_std_huffman[0].bits, 16);
    memcpy(dht + 17, jpeg_std_huffman[0].values, 12);
    put_seg(&b, JPEG_DHT, dht, sizeof dht);
    put_seg(&b, JPEG_SOF0, SOF_GRAY, sizeof SOF_GRAY);
    put_seg(&b, JPEG_SOS, SOS_GRAY, sizeof SOS_GRAY);
    put(&b, EOI, 2);
    CHECK_EQ_INT(jpeg_parse(b.b, b.n, &info, &err), b.n);
    CHECK(!info.huffman_standard);
    CHECK_EQ_INT(info.dht_defined, 0x08);
    CHECK_EQ_INT(info.scan.len, 0);
}

static void test_tables_dri_and_scans(void)
{
    struct buf b;
    b.n = 0;
    put(&b, SOI, 2);
    uint8_t dqt[1 + 128 + 1 + 64];
    dqt[0] = 0x12; /* 16-bit, id 2 */
    for (int i = 0; i < 64; i++)
        wire_put_be16(dqt + 1 + 2 * i, (uint16_t)(300 + i));
    dqt[129] = 0x03;
    memset(dqt + 130, 9, 64);
    put_seg(&b, JPEG_DQT, dqt, sizeof dqt);
    put_seg(&b, JPEG_DRI, (const uint8_t[]){0, 7}, 2);
    put_seg(&b, JPEG_SOF0, SOF_GRAY, sizeof SOF_GRAY);
    put_seg(&b, JPEG_SOS, SOS_GRAY, sizeof SOS_GRAY);
    put(&b, SCAN, sizeof SCAN);
    /* A second scan, after which tables and DRI no longer change the first's. */
    put_seg(&b, JPEG_DRI, (const uint8_t[]){0, 9}, 2);
    put_seg(&b, JPEG_DQT, dqt + 129, 65);
    put_seg(&b, JPEG_SOS, SOS_GRAY, sizeof SOS_GRAY);
    put(&b, (const uint8_t[]){0x55}, 1);
    put(&b, EOI, 2);
    struct jpeg_info info;
    struct wire_error err;
    CHECK_EQ_INT(jpeg_parse(b.b, b.n, &info, &err), b.n);
    CHECK(info.qt[2].defined);
    CHECK_EQ_INT(info.qt[2].precision, 1);
    CHECK_EQ_INT(info.qt[2].value[0], 300);
    CHECK_EQ_INT(info.qt[2].value[63], 363);
    CHECK_EQ_INT(info.qt[3].value[5], 9);
    CHECK_EQ_INT(info.restart_interval, 7);
    CHECK_EQ_INT(info.scan_count, 2);
    CHECK_EQ_INT(info.scan.len, 4);
}

static size_t with_comments(struct buf *b, const char *const *texts, size_t n)
{
    b->n = 0;
    put(b, SOI, 2);
    for (size_t i = 0; i < n; i++)
        put_seg(b, JPEG_COM, (const uint8_t *)texts[i], strlen(texts[i]));
    put_dqt(b);
    put_seg(b, JPEG_SOF0, SOF_GRAY, sizeof SOF_GRAY);
    put_seg(b, JPEG_SOS, SOS_GRAY, sizeof SOS_GRAY);
    put(b, SCAN, sizeof SCAN);
    put(b, EOI, 2);
    return b->n;
}

/* Frame number of a JPEG carrying one COM with text; -1 on error. */
static long long number_of(const char *text)
{
    struct buf b;
    size_t n = with_comments(&b, &text, 1);
    uint32_t v = 0;
    struct wire_error err;
    int rc = jpeg_frame_number(b.b, n, &v, &err);
    return rc == 1 ? (long long)v : rc == 0 ? 0 : -1;
}

static void test_frame_number(void)
{
    CHECK_EQ_INT(number_of("rtsp-harness frame 1"), 1);
    CHECK_EQ_INT(number_of("rtsp-harness frame 42"), 42);
    CHECK_EQ_INT(number_of("rtsp-harness frame 4294967295"), 4294967295LL);
    CHECK_EQ_INT(number_of("rtsp-harness frame 4294967296"), 0);
    CHECK_EQ_INT(number_of("rtsp-harness frame 99999999999"), 0);
    CHECK_EQ_INT(number_of("rtsp-harness frame 0"), 0);
    CHECK_EQ_INT(number_of("rtsp-harness frame 007"), 0);
    CHECK_EQ_INT(number_of("rtsp-harness frame 12x"), 0);
    CHECK_EQ_INT(number_of("rtsp-harness frame "), 0);
    CHECK_EQ_INT(number_of("rtsp-harness frame -3"), 0);
    CHECK_EQ_INT(number_of("rtsp-harness  frame 3"), 0);
    CHECK_EQ_INT(number_of("Rtsp-harness frame 3"), 0);
    CHECK_EQ_INT(number_of("xrtsp-harness frame 3"), 0);
    /* A trailing NUL is not "exactly" the text. */
    struct buf b;
    b.n = 0;
    put(&b, SOI, 2);
    put_seg(&b, JPEG_COM, (const uint8_t *)"rtsp-harness frame 3", 21);
    put_dqt(&b);
    put_seg(&b, JPEG_SOF0, SOF_GRAY, sizeof SOF_GRAY);
    put_seg(&b, JPEG_SOS, SOS_GRAY, sizeof SOS_GRAY);
    put(&b, EOI, 2);
    uint32_t v = 99;
    struct wire_error err;
    CHECK_EQ_INT(jpeg_frame_number(b.b, b.n, &v, &err), 0);
    CHECK_EQ_INT(v, 99);

    /* The first matching comment wins, wherever it is, even past the slices kept. */
    const char *texts[11] = {"a", "b", "c", "d", "e", "f", "g", "h", "i",
                             "rtsp-harness frame 10", "rtsp-harness frame 11"};
    size_t n = with_comments(&b, texts, 11);
    struct jpeg_info info;
    CHECK_EQ_INT(jpeg_parse(b.b, n, &info, &err), n);
    CHECK_EQ_INT(info.comment_count, 11);
    CHECK_STR(info.comment[0].ptr, info.comment[0].len, "a");
    CHECK_STR(info.comment[7].ptr, info.comment[7].len, "h");
    CHECK(info.has_frame_number);
    CHECK_EQ_INT(info.frame_number, 10);
    CHECK_EQ_INT(jpeg_frame_number(b.b, n, &v, &err), 1);
    CHECK_EQ_INT(v, 10);

    /* Malformed: WIRE_ERROR, even with the comment present. */
    n = with_comments(&b, texts + 9, 1);
    CHECK_EQ_INT(jpeg_frame_number(b.b, n - 2, &v, &err), WIRE_ERROR);
    CHECK_EQ_INT(jpeg_frame_number(b.b + 1, n - 1, &v, &err), WIRE_ERROR);

    /* A progressive frame cannot be packetized but can still be identified. */
    size_t len;
    uint8_t *j = compress(64, 64, TJSAMP_420, 75, TJFLAG_PROGRESSIVE, &len);
    const char *com = "rtsp-harness frame 5";
    uint8_t *pj = malloc(len + 32);
    memcpy(pj, j, 2);
    pj[2] = 0xFF;
    pj[3] = JPEG_COM;
    wire_put_be16(pj + 4, (uint16_t)(strlen(com) + 2));
    memcpy(pj + 6, com, strlen(com));
    memcpy(pj + 6 + strlen(com), j + 2, len - 2);
    size_t plen = len + 4 + strlen(com);
    CHECK_EQ_INT(jpeg_frame_number(pj, plen, &v, &err), 1);
    CHECK_EQ_INT(v, 5);
    CHECK_EQ_INT(jpeg_parse(pj, plen, &info, &err), WIRE_ERROR);
    CHECK(strstr(err.reason, "progressive JPEG (SOF2)") != NULL);
    CHECK_EQ_INT(jpeg_frame_number(j, len, &v, &err), 0);
    free(pj);
    free(j);
}

static void test_unsupported_processes(void)
{
    static const struct { uint8_t marker; const char *want; } cases[] = {
        {0xC1, "extended sequential"}, {0xC2, "progressive"}, {0xC3, "lossless"},
        {0xC5, "hierarchical"},        {0xC7, "hierarchical"}, {0xC9, "arithmetic"},
        {0xCB, "arithmetic"},          {0xCD, "hierarchical arithmetic"}, {0xCF, "hierarchical arithmetic"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct buf b;
        size_t n = minimal(&b, SOF_GRAY, sizeof SOF_GRAY, SOS_GRAY, sizeof SOS_GRAY);
        size_t sof = 2 + 4 + 65;
        CHECK_EQ_INT(b.b[sof + 1], JPEG_SOF0);
        b.b[sof + 1] = cases[i].marker;
        EXPECT_ERR(b.b, n, cases[i].want, sof);
        /* Structure is still walked for identification. */
        uint32_t v;
        struct wire_error err;
        CHECK_EQ_INT(jpeg_frame_number(b.b, n, &v, &err), 0);
    }
}

static void test_structure_errors(void)
{
    struct buf b;
    size_t n = minimal(&b, SOF_GRAY, sizeof SOF_GRAY, SOS_GRAY, sizeof SOS_GRAY);
    const size_t dqt = 2, sof = 2 + 4 + 65, sos = sof + 4 + 9, scan = sos + 4 + 6;
    CHECK_EQ_INT(b.b[sos + 1], JPEG_SOS);
    uint8_t c[4096];

    EXPECT_ERR(b.b, 0, "missing SOI", 0);
    EXPECT_ERR(b.b, 1, "missing SOI", 0);
    EXPECT_ERR((const uint8_t *)"\xFF\xD9", 2, "missing SOI", 0);
    EXPECT_ERR(b.b, 2, "no EOI", 2);
    EXPECT_ERR(b.b, 3, "inside a marker", 2);
    EXPECT_ERR(b.b, 4, "segment length missing", 4);
    EXPECT_ERR(b.b, 5, "segment length missing", 4);
    EXPECT_ERR(b.b, 6, "beyond the buffer", 4);
    EXPECT_ERR(b.b, scan + 1, "not terminated by a marker", scan + 1);
    EXPECT_ERR(b.b, scan + 2, "scan data ends inside a marker", scan + 1);
    EXPECT_ERR(b.b, scan + 4, "not terminated by a marker", scan + 4);
    EXPECT_ERR(b.b, n - 1, "ends inside a marker", n - 2);

    memcpy(c, b.b, n);
    c[dqt] = 0x12;
    EXPECT_ERR(c, n, "expected a marker", dqt);
    memcpy(c, b.b, n);
    wire_put_be16(c + dqt + 2, 1);
    EXPECT_ERR(c, n, "length below 2", dqt + 2);
    memcpy(c, b.b, n);
    c[dqt + 1] = 0x00;
    EXPECT_ERR(c, n, "0xFF00 outside", dqt);
    c[dqt + 1] = JPEG_SOI;
    EXPECT_ERR(c, n, "second SOI", dqt);
    c[dqt + 1] = 0xD3;
    EXPECT_ERR(c, n, "RST marker outside", dqt);
    c[dqt + 1] = 0x02;
    EXPECT_ERR(c, n, "reserved marker", dqt);
    c[dqt + 1] = 0xBF;
    EXPECT_ERR(c, n, "reserved marker", dqt);
    c[dqt + 1] = JPEG_DNL;
    EXPECT_ERR(c, n, "DNL", dqt);
    /* APPn and JPGn are walked over by their length, contents unread. */
    struct jpeg_info info;
    struct wire_error err;
    c[dqt + 1] = 0xE5;
    CHECK_EQ_INT(jpeg_parse(c, n, &info, &err), n);
    CHECK(!info.qt[0].defined);
    c[dqt + 1] = 0xF3;
    CHECK_EQ_INT(jpeg_parse(c, n, &info, &err), n);

    /* Missing pieces. */
    b.n = 0;
    put(&b, SOI, 2);
    put_dqt(&b);
    put(&b, EOI, 2);
    EXPECT_ERR(b.b, b.n, "no SOF", b.n - 2);
    b.n -= 2;
    put_seg(&b, JPEG_SOF0, SOF_GRAY, sizeof SOF_GRAY);
    put(&b, EOI, 2);
    EXPECT_ERR(b.b, b.n, "no SOS", b.n - 2);
    b.n = 0;
    put(&b, SOI, 2);
    put_seg(&b, JPEG_SOS, SOS_GRAY, sizeof SOS_GRAY);
    EXPECT_ERR(b.b, b.n, "SOS before any SOF", 2);
    b.n = 0;
    put(&b, SOI, 2);
    put_seg(&b, JPEG_SOF0, SOF_GRAY, sizeof SOF_GRAY);
    put_seg(&b, JPEG_SOF0, SOF_GRAY, sizeof SOF_GRAY);
    EXPECT_ERR(b.b, b.n, "more than one SOF", 2 + 4 + 9);
}

/* SOI, one extra segment, DQT, SOF, SOS, scan, EOI. */
static size_t with_segment(struct buf *b, uint8_t marker, const uint8_t *p, size_t n)
{
    b->n = 0;
    put(b, SOI, 2);
    put_seg(b, marker, p, n);
    put_dqt(b);
    put_seg(b, JPEG_SOF0, SOF_GRAY, sizeof SOF_GRAY);
    put_seg(b, JPEG_SOS, SOS_GRAY, sizeof SOS_GRAY);
    put(b, SCAN, sizeof SCAN);
    put(b, EOI, 2);
    return b->n;
}

static void test_table_segment_errors(void)
{
    struct buf b;
    uint8_t p[300];
    const size_t at = 6; /* first payload byte of the extra segment */
    memset(p, 1, sizeof p);
    p[0] = 0x20;
    EXPECT_ERR(b.b, with_segment(&b, JPEG_DQT, p, 65), "bad quantization table precision", at);
    p[0] = 0x04;
    EXPECT_ERR(b.b, with_segment(&b, JPEG_DQT, p, 65), "quantization table id above 3", at);
    p[0] = 0x00;
    EXPECT_ERR(b.b, with_segment(&b, JPEG_DQT, p, 64), "beyond the DQT segment", at);
    p[0] = 0x10;
    EXPECT_ERR(b.b, with_segment(&b, JPEG_DQT, p, 65), "beyond the DQT segment", at);
    /* The second table of one segment is checked too. */
    p[0] = 0x00;
    p[65] = 0x01;
    EXPECT_ERR(b.b, with_segment(&b, JPEG_DQT, p, 65 + 30), "beyond the DQT segment", at + 65);
    p[11] = 0;
    EXPECT_ERR(b.b, with_segment(&b, JPEG_DQT, p, 65), "entry is 0", at + 1 + 10);
    p[11] = 1;
    p[0] = 0x10;
    p[1 + 6] = 0;
    p[1 + 7] = 0;
    EXPECT_ERR(b.b, with_segment(&b, JPEG_DQT, p, 129), "entry is 0", at + 1 + 6);
    EXPECT_ERR(b.b, with_segment(&b, JPEG_DQT, p, 0), "empty DQT", at);

    memset(p, 0, sizeof p);
    p[0] = 0x20;
    EXPECT_ERR(b.b, with_segment(&b, JPEG_DHT, p, 17), "bad Huffman table class", at);
    p[0] = 0x04;
    EXPECT_ERR(b.b, with_segment(&b, JPEG_DHT, p, 17), "Huffman table id above 3", at);
    p[0] = 0x00;
    EXPECT_ERR(b.b, with_segment(&b, JPEG_DHT, p, 10), "counts extend beyond", at);
    memset(p + 1, 17, 16);
    EXPECT_ERR(b.b, with_segment(&b, JPEG_DHT, p, 17 + 256), "more than 256 codes", at + 1);
    memcpy(p + 1, jpeg_std_huffman[0].bits, 16);
    EXPECT_ERR(b.b, with_segment(&b, JPEG_DHT, p, 17 + 5), "values extend beyond", at + 17);
    EXPECT_ERR(b.b, with_segment(&b, JPEG_DHT, p, 0), "empty DHT", at);
    struct jpeg_info info;
    struct wire_error err;
    size_t n = with_segment(&b, JPEG_DHT, p, 17 + 12); /* a valid, non-standard DC table */
    CHECK_EQ_INT(jpeg_parse(b.b, n, &info, &err), n);
    CHECK(!info.huffman_standard);

    EXPECT_ERR(b.b, with_segment(&b, JPEG_DRI, p, 3), "DRI segment length", 4);
    EXPECT_ERR(b.b, with_segment(&b, JPEG_DRI, p, 0), "DRI segment length", 4);
}

static void test_frame_header_errors(void)
{
    struct buf b;
    const size_t soff = 2 + 4 + 65 + 4; /* first byte of the SOF payload */
    uint8_t s[32];
#define SOF_ERR(len, want, at) EXPECT_ERR(b.b, minimal(&b, s, (len), SOS_GRAY, sizeof SOS_GRAY), (want), (at))
    memcpy(s, SOF_GRAY, 9);
    s[0] = 12;
    SOF_ERR(9, "sample precision", soff);
    memcpy(s, SOF_GRAY, 9);
    s[1] = s[2] = 0;
    SOF_ERR(9, "height 0", soff + 1);
    memcpy(s, SOF_GRAY, 9);
    s[3] = s[4] = 0;
    SOF_ERR(9, "width is 0", soff + 3);
    memcpy(s, SOF_GRAY, 9);
    s[5] = 0;
    SOF_ERR(6, "bad component count", soff + 5);
    s[5] = 5;
    for (int i = 0; i < 5; i++) {
        s[6 + 3 * i] = (uint8_t)(i + 1);
        s[7 + 3 * i] = 0x11;
        s[8 + 3 * i] = 0;
    }
    SOF_ERR(21, "bad component count", soff + 5);
    SOF_ERR(12, "does not match its component count", soff + 5);
    SOF_ERR(5, "shorter than its fixed fields", soff);
    memcpy(s, SOF_GRAY, 9);
    s[7] = 0x01;
    SOF_ERR(9, "bad sampling factor", soff + 7);
    s[7] = 0x15;
    SOF_ERR(9, "bad sampling factor", soff + 7);
    s[7] = 0x11;
    s[8] = 4;
    SOF_ERR(9, "quantization table selector above 3", soff + 8);
    /* Two components with one id. */
    const uint8_t dup[12] = {8, 0, 16, 0, 16, 2, 1, 0x11, 0, 1, 0x11, 0};
    memcpy(s, dup, 12);
    SOF_ERR(12, "duplicate component id", soff + 9);
#undef SOF_ERR
}

static void test_scan_header_errors(void)
{
    struct buf b;
    const size_t soff = 2 + 4 + 65 + 4 + 9 + 4; /* first byte of the SOS payload (gray SOF) */
    uint8_t s[32] = {0};
#define SOS_ERR(len, want, at) EXPECT_ERR(b.b, minimal(&b, SOF_GRAY, sizeof SOF_GRAY, s, (len)), (want), (at))
    SOS_ERR(0, "empty SOS", soff);
    memcpy(s, SOS_GRAY, 6);
    SOS_ERR(5, "SOS length does not match", soff);
    const uint8_t ns0[4] = {0, 0, 63, 0};
    memcpy(s, ns0, 4);
    SOS_ERR(4, "bad scan component count", soff);
    s[0] = 5;
    SOS_ERR(14, "bad scan component count", soff);
    const uint8_t ns2[8] = {2, 1, 0, 1, 0, 0, 63, 0};
    memcpy(s, ns2, 8);
    SOS_ERR(8, "more components than the frame", soff);
    memcpy(s, SOS_GRAY, 6);
    s[1] = 9;
    SOS_ERR(6, "not a frame component", soff + 1);
    memcpy(s, SOS_GRAY, 6);
    s[2] = 0x40;
    SOS_ERR(6, "Huffman table selector above 3", soff + 2);
    s[2] = 0x04;
    SOS_ERR(6, "Huffman table selector above 3", soff + 2);
    memcpy(s, SOS_GRAY, 6);
    s[3] = 1;
    SOS_ERR(6, "not baseline", soff + 3);
    memcpy(s, SOS_GRAY, 6);
    s[4] = 62;
    SOS_ERR(6, "not baseline", soff + 3);
    memcpy(s, SOS_GRAY, 6);
    s[5] = 0x01;
    SOS_ERR(6, "not baseline", soff + 3);
#undef SOS_ERR
    /* Duplicate component in a scan of a two-component frame. */
    const uint8_t sof2[12] = {8, 0, 16, 0, 16, 2, 1, 0x11, 0, 2, 0x11, 0};
    memcpy(s, ns2, 8);
    EXPECT_ERR(b.b, minimal(&b, sof2, 12, s, 8), "component listed twice", 2 + 4 + 65 + 4 + 12 + 4 + 3);
    s[3] = 2;
    struct jpeg_info info;
    struct wire_error err;
    size_t n = minimal(&b, sof2, 12, s, 8);
    CHECK_EQ_INT(jpeg_parse(b.b, n, &info, &err), n);
    CHECK_EQ_INT(info.scan_ncomponents, 2);
}

int main(void)
{
    RUN(test_turbojpeg_420);
    RUN(test_turbojpeg_422_and_gray);
    RUN(test_every_truncation_is_an_error);
    RUN(test_trailing_bytes_and_fill);
    RUN(test_huffman_standard_detection);
    RUN(test_tables_dri_and_scans);
    RUN(test_frame_number);
    RUN(test_unsupported_processes);
    RUN(test_structure_errors);
    RUN(test_table_segment_errors);
    RUN(test_frame_header_errors);
    RUN(test_scan_header_errors);
    CHECK_DONE();
}
