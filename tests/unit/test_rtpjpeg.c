/* Unit tests for the RFC 2435 packetizer and depacketizer (rtpjpeg.c):
 * round trips of libjpeg-turbo frames and of fixtures/movie.Mjpeg that must
 * decode to identical pixels with byte-identical scan data, loss, reordering,
 * duplicates, the Q table cache, and every error path. Run from the project
 * root (meson does), so fixtures/movie.Mjpeg is found. */
#include <stdint.h>
#include <turbojpeg.h>

#include "check.h"
#include "jpeg.h"
#include "mjpeg.h"
#include "rtpjpeg.h"

#define MOVIE_PATH "fixtures/movie.Mjpeg"
#define FRAME_CAP (1u << 21)

static uint8_t frame_buf[FRAME_CAP];

/* ---- making and decoding JPEGs with libjpeg-turbo ---- */

/* A picture with gradients and pseudo-random detail, so the scan is not trivial. */
static uint8_t *make_rgb(int w, int h, uint32_t seed)
{
    uint8_t *p = malloc((size_t)w * (size_t)h * 3);
    uint32_t r = seed * 2654435761u + 1;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            r = r * 1103515245u + 12345u;
            uint8_t *px = p + ((size_t)y * (size_t)w + (size_t)x) * 3;
            px[0] = (uint8_t)(x * 255 / w + ((r >> 16) & 15));
            px[1] = (uint8_t)(y * 255 / h + ((r >> 20) & 31));
            px[2] = (uint8_t)(((x / 8 + y / 8) & 1) ? 200 : 40);
        }
    }
    return p;
}

/* Compress with tjCompress2; returns a malloc'd JPEG. */
static uint8_t *compress(int w, int h, int subsamp, int quality, int flags, uint32_t seed, size_t *len)
{
    tjhandle tj = tjInitCompress();
    uint8_t *rgb = make_rgb(w, h, seed);
    unsigned char *jpeg = NULL;
    unsigned long jlen = 0;
    int rc = tjCompress2(tj, rgb, w, 0, h, TJPF_RGB, &jpeg, &jlen, subsamp, quality, flags);
    if (rc != 0) {
        fprintf(stderr, "tjCompress2: %s\n", tjGetErrorStr2(tj));
        abort();
    }
    uint8_t *out = malloc(jlen);
    memcpy(out, jpeg, jlen);
    tjFree(jpeg);
    free(rgb);
    tjDestroy(tj);
    *len = jlen;
    return out;
}

/* Decode to RGB; returns malloc'd pixels or NULL when libjpeg-turbo refuses. */
static uint8_t *decode(const uint8_t *jpeg, size_t len, int *w, int *h)
{
    tjhandle tj = tjInitDecompress();
    int sub, cs;
    uint8_t *px = NULL;
    if (tjDecompressHeader3(tj, jpeg, len, w, h, &sub, &cs) == 0) {
        px = malloc((size_t)*w * (size_t)*h * 3);
        if (tjDecompress2(tj, jpeg, len, px, *w, 0, *h, TJPF_RGB, 0) != 0) {
            fprintf(stderr, "tjDecompress2: %s\n", tjGetErrorStr2(tj));
            free(px);
            px = NULL;
        }
    }
    tjDestroy(tj);
    return px;
}

/* True when both JPEGs decode, to the same size and identical pixels. */
static bool same_pixels(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int aw, ah, bw, bh;
    uint8_t *pa = decode(a, alen, &aw, &ah);
    uint8_t *pb = decode(b, blen, &bw, &bh);
    bool same = pa && pb && aw == bw && ah == bh &&
                memcmp(pa, pb, (size_t)aw * (size_t)ah * 3) == 0;
    free(pa);
    free(pb);
    return same;
}

/* Offset of the first marker m in a JPEG's headers. */
static size_t find_marker(const uint8_t *j, size_t len, uint8_t m)
{
    for (size_t i = 2; i + 3 < len;) {
        if (j[i + 1] == m)
            return i;
        i += 2 + wire_get_be16(j + i + 2);
    }
    abort();
}

/* A JPEG with restart markers, made without libjpeg's restart option (the
 * TurboJPEG 2 API has none): every MCU row is compressed as its own image,
 * whose scan starts with zero DC predictors exactly as after a restart, and
 * the rows' scans are joined with RST0..RST7 under DRI = MCUs per row. */
static uint8_t *compress_restart(int w, int h, int subsamp, int quality, size_t *len, uint16_t *dri)
{
    int mcu_h = subsamp == TJSAMP_420 ? 16 : 8;
    int rows = h / mcu_h;
    uint8_t *out = malloc((size_t)w * (size_t)h * 4 + 4096);
    size_t n = 0;
    *dri = (uint16_t)((w + 15) / 16);
    for (int r = 0; r < rows; r++) {
        size_t slen;
        uint8_t *strip = compress(w, mcu_h, subsamp, quality, 0, 1000u + (uint32_t)r, &slen);
        struct jpeg_info info;
        struct wire_error err;
        if (jpeg_parse(strip, slen, &info, &err) < 0)
            abort();
        if (r == 0) {
            size_t sos = info.sos_offset;
            memcpy(out, strip, sos);
            /* Patch the SOF height to the whole picture. */
            wire_put_be16(out + find_marker(out, sos, JPEG_SOF0) + 5, (uint16_t)h);
            n = sos;
            const uint8_t driseg[6] = {0xFF, JPEG_DRI, 0, 4, (uint8_t)(*dri >> 8), (uint8_t)*dri};
            memcpy(out + n, driseg, 6);
            n += 6;
            size_t soslen = (size_t)((const uint8_t *)info.scan.ptr - strip) - sos;
            memcpy(out + n, strip + sos, soslen);
            n += soslen;
        } else {
            out[n++] = 0xFF;
            out[n++] = (uint8_t)(JPEG_RST0 + ((r - 1) & 7));
        }
        memcpy(out + n, info.scan.ptr, info.scan.len);
        n += info.scan.len;
        free(strip);
    }
    out[n++] = 0xFF;
    out[n++] = JPEG_EOI;
    *len = n;
    return out;
}

/* ---- packetizing and depacketizing ---- */

/* Payloads of one frame, in order. */
struct payloads {
    size_t n;       /* number of payloads */
    uint8_t **data; /* each payload */
    size_t *len;    /* each length */
};

static void payloads_free(struct payloads *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        free(ps->data[i]);
    free(ps->data);
    free(ps->len);
    memset(ps, 0, sizeof *ps);
}

/* Packetize; checks every payload against max_payload and the is_last flag. */
static int packetize(const uint8_t *jpeg, size_t len, const struct rtpjpeg_options *o,
                     struct payloads *ps, struct wire_error *err)
{
    struct rtpjpeg_packetizer p;
    memset(ps, 0, sizeof *ps);
    if (rtpjpeg_packetizer_init(&p, jpeg, len, o, err) < 0)
        return WIRE_ERROR;
    size_t count = rtpjpeg_packetizer_count(&p);
    ps->data = calloc(count + 1, sizeof *ps->data);
    ps->len = calloc(count + 1, sizeof *ps->len);
    uint8_t out[65536];
    size_t olen;
    bool last = false;
    int rc;
    while ((rc = rtpjpeg_packetizer_next(&p, out, sizeof out, &olen, &last, err)) == 1) {
        CHECK(ps->n < count);
        if (ps->n >= count)
            return WIRE_ERROR;
        CHECK(olen <= o->max_payload);
        CHECK_EQ_INT(last, ps->n + 1 == count);
        ps->data[ps->n] = malloc(olen);
        memcpy(ps->data[ps->n], out, olen);
        ps->len[ps->n] = olen;
        ps->n++;
    }
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(ps->n, count);
    CHECK(last);
    return 0;
}

/* Push payloads in the given order (all with one timestamp, seq = base +
 * index, marker on the last index); returns the last push result. */
static int push_order(struct rtpjpeg_depacketizer *d, const struct payloads *ps, const size_t *order,
                      size_t n, uint32_t ts, uint16_t seq_base, struct wire_error *err)
{
    int rc = WIRE_ERROR;
    for (size_t k = 0; k < n; k++) {
        size_t i = order ? order[k] : k;
        rc = rtpjpeg_depacketize_push(d, ps->data[i], ps->len[i], ts, i + 1 == ps->n,
                                      (uint16_t)(seq_base + i), err);
        if (rc == RTPJPEG_INCOMPLETE)
            rc = rtpjpeg_depacketize_push(d, ps->data[i], ps->len[i], ts, i + 1 == ps->n,
                                          (uint16_t)(seq_base + i), err);
        if (rc != RTPJPEG_ACCEPTED && k + 1 < n)
            return rc;
    }
    return rc;
}

/* Full round trip at max payload for MTU 1400: the rebuilt frame must parse,
 * carry byte-identical scan data and decode to identical pixels. */
static void roundtrip(const uint8_t *jpeg, size_t len, uint8_t q, const char *what)
{
    struct rtpjpeg_options o = {.max_payload = rtpjpeg_max_payload_for_mtu(1400), .q = q};
    struct payloads ps;
    struct wire_error err = {0, NULL};
    if (packetize(jpeg, len, &o, &ps, &err) < 0) {
        fprintf(stderr, "%s: packetize: %s at %zu\n", what, err.reason, err.offset);
        CHECK(!"packetize failed");
        return;
    }
    struct rtpjpeg_depacketizer d;
    CHECK_EQ_INT(rtpjpeg_depacketizer_init(&d, frame_buf, sizeof frame_buf, &err), 0);
    int rc = push_order(&d, &ps, NULL, ps.n, 90000, 100, &err);
    if (rc != RTPJPEG_COMPLETE)
        fprintf(stderr, "%s: depacketize rc %d: %s\n", what, rc, rc < 0 ? err.reason : "");
    CHECK_EQ_INT(rc, RTPJPEG_COMPLETE);
    if (rc == RTPJPEG_COMPLETE) {
        struct jpeg_info a, b;
        CHECK(jpeg_parse(jpeg, len, &a, &err) > 0);
        CHECK_EQ_INT(jpeg_parse(d.frame, d.frame_len, &b, &err), (int)d.frame_len);
        CHECK(a.scan.len == b.scan.len && memcmp(a.scan.ptr, b.scan.ptr, a.scan.len) == 0);
        CHECK_EQ_INT(b.restart_interval, a.restart_interval);
        CHECK(b.huffman_standard);
        CHECK(same_pixels(jpeg, len, d.frame, d.frame_len));
        CHECK_EQ_INT(d.frame_info.width, a.width);
        CHECK_EQ_INT(d.frame_info.height, a.height);
        CHECK_EQ_INT(d.frame_info.packets, ps.n);
    }
    payloads_free(&ps);
}

/* ---- tests ---- */

static void test_max_payload_for_mtu(void)
{
    CHECK_EQ_INT(rtpjpeg_max_payload_for_mtu(1400), 1360);
    CHECK_EQ_INT(rtpjpeg_max_payload_for_mtu(1500), 1460);
    CHECK_EQ_INT(rtpjpeg_max_payload_for_mtu(40), 0);
    CHECK_EQ_INT(rtpjpeg_max_payload_for_mtu(41), 1);
    CHECK_EQ_INT(rtpjpeg_max_payload_for_mtu(0), 0);
}

/* The claim the Q < 128 path rests on: libjpeg-turbo's quality scaling of
 * the Annex K tables equals RFC 2435 MakeTables for the same Q, for every Q. */
static void test_make_tables_match_libjpeg_quality(void)
{
    for (int q = 1; q <= 99; q++) {
        size_t len;
        uint8_t *jpeg = compress(16, 16, TJSAMP_420, q, 0, 7, &len);
        struct jpeg_info info;
        struct wire_error err;
        CHECK(jpeg_parse(jpeg, len, &info, &err) > 0);
        uint8_t lq[64], cq[64];
        rtpjpeg_make_tables((unsigned)q, lq, cq);
        int mismatches = 0;
        for (int i = 0; i < 64; i++)
            mismatches += info.qt[0].value[i] != lq[i] || info.qt[1].value[i] != cq[i];
        if (mismatches)
            fprintf(stderr, "quality %d: %d table entries differ\n", q, mismatches);
        CHECK_EQ_INT(mismatches, 0);
        free(jpeg);
    }
    uint8_t lq[64], cq[64];
    rtpjpeg_make_tables(50, lq, cq);
    CHECK_EQ_INT(lq[0], 16);
    CHECK_EQ_INT(lq[1], 11); /* zigzag order: (0,1) */
    CHECK_EQ_INT(lq[2], 12); /* then (1,0) */
    CHECK_EQ_INT(cq[63], 99);
    uint8_t l0[64], c0[64];
    rtpjpeg_make_tables(0, l0, c0); /* clamped to 1 */
    rtpjpeg_make_tables(1, lq, cq);
    CHECK(memcmp(l0, lq, 64) == 0);
    CHECK_EQ_INT(lq[0], 255);
    rtpjpeg_make_tables(99, lq, cq);
    CHECK_EQ_INT(lq[0], 1);
}

static void test_write_headers_parse(void)
{
    uint8_t buf[RTPJPEG_JFIF_HEADER_MAX + 16];
    uint8_t tables[256];
    for (int i = 0; i < 256; i++)
        tables[i] = (uint8_t)(i < 128 && i % 2 == 0 ? 0 : 1 + i % 200);
    /* 16-bit luma, 8-bit chroma, with restart interval: the largest case but one. */
    size_t n = rtpjpeg_write_headers(buf, 1, 384, 288, 24, 1, tables);
    CHECK(n <= RTPJPEG_JFIF_HEADER_MAX);
    buf[n] = 0x12;
    buf[n + 1] = 0xFF;
    buf[n + 2] = JPEG_EOI;
    struct jpeg_info info;
    struct wire_error err;
    CHECK_EQ_INT(jpeg_parse(buf, n + 3, &info, &err), n + 3);
    CHECK_EQ_INT(info.width, 384);
    CHECK_EQ_INT(info.height, 288);
    CHECK_EQ_INT(info.comp[0].h, 2);
    CHECK_EQ_INT(info.comp[0].v, 2);
    CHECK_EQ_INT(info.restart_interval, 24);
    CHECK(info.huffman_standard);
    CHECK(info.jfif);
    CHECK_EQ_INT(info.qt[0].precision, 1);
    CHECK_EQ_INT(info.qt[1].precision, 0);
    CHECK_EQ_INT(info.qt[0].value[0], 2); /* big-endian 0x00 0x02 */
    CHECK_EQ_INT(info.qt[1].value[0], 1 + 128);
    CHECK_EQ_INT(info.scan.len, 1);
    /* Both tables 16-bit: the largest header still fits the reserved room. */
    for (int i = 0; i < 256; i++)
        tables[i] = 1;
    n = rtpjpeg_write_headers(buf, 0, 2040, 2040, 65535, 3, tables);
    CHECK(n <= RTPJPEG_JFIF_HEADER_MAX);
    CHECK_EQ_INT(n, 741);
}

static void test_roundtrip_turbojpeg_matrix(void)
{
    static const int sizes[3][2] = {{384, 288}, {640, 480}, {176, 144}};
    static const int subs[2] = {TJSAMP_420, TJSAMP_422};
    static const int quals[3] = {50, 75, 95};
    for (int s = 0; s < 3; s++) {
        for (int u = 0; u < 2; u++) {
            for (int q = 0; q < 3; q++) {
                size_t len;
                uint8_t *jpeg = compress(sizes[s][0], sizes[s][1], subs[u], quals[q], 0,
                                         (uint32_t)(s * 9 + u * 3 + q), &len);
                char what[64];
                snprintf(what, sizeof what, "%dx%d sub %d q %d", sizes[s][0], sizes[s][1],
                         subs[u], quals[q]);
                roundtrip(jpeg, len, 0, what);            /* Q=255, tables in-band */
                roundtrip(jpeg, len, 200, what);          /* Q=200, tables in-band */
                roundtrip(jpeg, len, (uint8_t)quals[q], what); /* standard tables, none sent */
                free(jpeg);
            }
        }
    }
}

static void test_payload_headers(void)
{
    size_t len;
    uint8_t *jpeg = compress(384, 288, TJSAMP_422, 75, 0, 3, &len);
    struct rtpjpeg_options o = {.max_payload = 1360, .q = 0};
    struct payloads ps;
    struct wire_error err;
    CHECK_EQ_INT(packetize(jpeg, len, &o, &ps, &err), 0);
    CHECK(ps.n > 2);
    const uint8_t *p = ps.data[0];
    CHECK_EQ_INT(p[0], 0);
    CHECK_EQ_INT(wire_get_be24(p + 1), 0);
    CHECK_EQ_INT(p[4], 0);   /* type 0: 4:2:2 */
    CHECK_EQ_INT(p[5], 255); /* default Q */
    CHECK_EQ_INT(p[6], 384 / 8);
    CHECK_EQ_INT(p[7], 288 / 8);
    CHECK_EQ_INT(p[8], 0);   /* MBZ */
    CHECK_EQ_INT(p[9], 0);   /* 8-bit tables */
    CHECK_EQ_INT(wire_get_be16(p + 10), 128);
    CHECK_EQ_INT(ps.len[0], 1360);
    size_t offset = ps.len[0] - 8 - 4 - 128;
    for (size_t i = 1; i < ps.n; i++) {
        CHECK_EQ_INT(wire_get_be24(ps.data[i] + 1), offset);
        CHECK_EQ_INT(ps.data[i][5], 255);
        offset += ps.len[i] - 8;
    }
    struct jpeg_info info;
    CHECK(jpeg_parse(jpeg, len, &info, &err) > 0);
    CHECK_EQ_INT(offset, info.scan.len);
    payloads_free(&ps);
    free(jpeg);
}

static void test_roundtrip_restart_markers(void)
{
    static const struct { int w, h, sub; } cases[] = {
        {384, 288, TJSAMP_420}, {176, 144, TJSAMP_422}, {640, 480, TJSAMP_420}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t len;
        uint16_t dri;
        uint8_t *jpeg = compress_restart(cases[c].w, cases[c].h, cases[c].sub, 80, &len, &dri);
        struct jpeg_info info;
        struct wire_error err;
        CHECK_EQ_INT(jpeg_parse(jpeg, len, &info, &err), len);
        CHECK_EQ_INT(info.restart_interval, dri);
        int w, h;
        uint8_t *px = decode(jpeg, len, &w, &h);
        CHECK(px != NULL); /* the hand-joined restart JPEG is valid for libjpeg-turbo */
        free(px);
        struct rtpjpeg_options o = {.max_payload = 1360};
        struct payloads ps;
        CHECK_EQ_INT(packetize(jpeg, len, &o, &ps, &err), 0);
        for (size_t i = 0; i < ps.n; i++) {
            CHECK_EQ_INT(ps.data[i][4], (cases[c].sub == TJSAMP_420 ? 1 : 0) + 64);
            CHECK_EQ_INT(wire_get_be16(ps.data[i] + 8), dri);
            CHECK_EQ_INT(wire_get_be16(ps.data[i] + 10), 0xFFFF); /* F=1, L=1, count 0x3FFF */
        }
        payloads_free(&ps);
        roundtrip(jpeg, len, 0, "restart");
        roundtrip(jpeg, len, 80, "restart q80");
        free(jpeg);
    }
}

/* Rewrite every DQT table of a JPEG to 16-bit precision (same values). */
static uint8_t *widen_dqt(const uint8_t *jpeg, size_t len, size_t *out_len)
{
    uint8_t *out = malloc(len + 1024);
    size_t i = 2, o = 2;
    memcpy(out, jpeg, 2);
    while (i < len) {
        uint8_t m = jpeg[i + 1];
        size_t seg = wire_get_be16(jpeg + i + 2);
        if (m == JPEG_DQT) {
            size_t start = o;
            out[o++] = 0xFF;
            out[o++] = JPEG_DQT;
            o += 2;
            for (size_t k = i + 4; k < i + 2 + seg; k += 65) {
                out[o++] = (uint8_t)(0x10 | (jpeg[k] & 15));
                for (int e = 0; e < 64; e++) {
                    out[o++] = 0;
                    out[o++] = jpeg[k + 1 + e];
                }
            }
            wire_put_be16(out + start + 2, (uint16_t)(o - start - 2));
        } else {
            memcpy(out + o, jpeg + i, 2 + seg);
            o += 2 + seg;
        }
        i += 2 + seg;
        if (m == JPEG_SOS) {
            memcpy(out + o, jpeg + i, len - i);
            o += len - i;
            break;
        }
    }
    *out_len = o;
    return out;
}

static void test_roundtrip_16bit_tables(void)
{
    size_t len, wlen;
    uint8_t *jpeg = compress(176, 144, TJSAMP_420, 60, 0, 5, &len);
    uint8_t *wide = widen_dqt(jpeg, len, &wlen);
    struct jpeg_info info;
    struct wire_error err;
    CHECK_EQ_INT(jpeg_parse(wide, wlen, &info, &err), wlen);
    CHECK_EQ_INT(info.qt[0].precision, 1);
    CHECK(same_pixels(jpeg, len, wide, wlen));
    struct rtpjpeg_options o = {.max_payload = 1360};
    struct payloads ps;
    CHECK_EQ_INT(packetize(wide, wlen, &o, &ps, &err), 0);
    CHECK_EQ_INT(ps.data[0][9], 3);
    CHECK_EQ_INT(wire_get_be16(ps.data[0] + 10), 256);
    payloads_free(&ps);
    roundtrip(wide, wlen, 0, "16-bit tables");
    roundtrip(wide, wlen, 60, "16-bit tables, standard Q");
    free(wide);
    free(jpeg);
}

static void test_roundtrip_movie_fixture(void)
{
    FILE *f = fopen(MOVIE_PATH, "rb");
    CHECK(f != NULL); /* the assembled project ships it: missing is a failure, not a skip */
    if (!f) {
        fprintf(stderr, "%s: cannot open (run from the project root)\n", MOVIE_PATH);
        return;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc(size > 0 ? (size_t)size : 1);
    CHECK(size > 0 && fread(data, 1, (size_t)size, f) == (size_t)size);
    fclose(f);
    struct mjpeg_reader r;
    mjpeg_reader_init(&r, data, (size_t)size);
    const uint8_t *frame;
    size_t flen;
    struct wire_error err;
    int rc, frames = 0;
    while ((rc = mjpeg_next(&r, &frame, &flen, &err)) == 1) {
        char what[48];
        snprintf(what, sizeof what, "movie frame %d", frames + 1);
        uint32_t number;
        CHECK_EQ_INT(jpeg_frame_number(frame, flen, &number, &err), 1);
        CHECK_EQ_INT(number, frames + 1);
        roundtrip(frame, flen, 0, what);
        frames++;
    }
    CHECK_EQ_INT(rc, 0);
    CHECK(frames > 0);
    printf("     %s: %d frames round-tripped\n", MOVIE_PATH, frames);
    free(data);
}

/* The frame identity comment is not part of RFC 2435: it is gone after a
 * round trip, as the rest of the project expects. */
static void test_frame_comment_not_carried(void)
{
    size_t len;
    uint8_t *jpeg = compress(176, 144, TJSAMP_420, 75, 0, 9, &len);
    const char *com = "rtsp-harness frame 7";
    size_t clen = strlen(com);
    uint8_t *with = malloc(len + clen + 4);
    memcpy(with, jpeg, 2);
    with[2] = 0xFF;
    with[3] = JPEG_COM;
    wire_put_be16(with + 4, (uint16_t)(clen + 2));
    memcpy(with + 6, com, clen);
    memcpy(with + 6 + clen, jpeg + 2, len - 2);
    size_t wlen = len + clen + 4;
    uint32_t n = 0;
    struct wire_error err;
    CHECK_EQ_INT(jpeg_frame_number(with, wlen, &n, &err), 1);
    CHECK_EQ_INT(n, 7);
    struct rtpjpeg_options o = {.max_payload = 1360};
    struct payloads ps;
    CHECK_EQ_INT(packetize(with, wlen, &o, &ps, &err), 0);
    struct rtpjpeg_depacketizer d;
    rtpjpeg_depacketizer_init(&d, frame_buf, sizeof frame_buf, &err);
    CHECK_EQ_INT(push_order(&d, &ps, NULL, ps.n, 1, 1, &err), RTPJPEG_COMPLETE);
    CHECK_EQ_INT(jpeg_frame_number(d.frame, d.frame_len, &n, &err), 0);
    CHECK(same_pixels(with, wlen, d.frame, d.frame_len));
    payloads_free(&ps);
    free(with);
    free(jpeg);
}

/* Payloads of two different frames for the loss tests. */
static void two_frames(struct payloads *a, struct payloads *b, uint8_t q)
{
    size_t la, lb;
    uint8_t *ja = compress(384, 288, TJSAMP_420, 75, 0, 21, &la);
    uint8_t *jb = compress(384, 288, TJSAMP_420, 75, 0, 22, &lb);
    struct rtpjpeg_options o = {.max_payload = 1000, .q = q};
    struct wire_error err;
    CHECK_EQ_INT(packetize(ja, la, &o, a, &err), 0);
    CHECK_EQ_INT(packetize(jb, lb, &o, b, &err), 0);
    free(ja);
    free(jb);
}

static uint32_t scan_offset(const struct payloads *ps, size_t i)
{
    return wire_get_be24(ps->data[i] + 1);
}

static uint32_t scan_bytes(const struct payloads *ps, size_t i)
{
    return (i + 1 < ps->n ? scan_offset(ps, i + 1) : scan_offset(ps, i) + (uint32_t)(ps->len[i] - 8)) -
           scan_offset(ps, i);
}

static void test_lost_middle_fragment_is_incomplete(void)
{
    struct payloads a, b;
    two_frames(&a, &b, 0);
    struct rtpjpeg_depacketizer d;
    struct wire_error err;
    rtpjpeg_depacketizer_init(&d, frame_buf, sizeof frame_buf, &err);
    size_t lost = a.n / 2;
    for (size_t i = 0; i < a.n; i++) {
        if (i == lost)
            continue;
        int rc = rtpjpeg_depacketize_push(&d, a.data[i], a.len[i], 1000, i + 1 == a.n,
                                          (uint16_t)(10 + i), &err);
        CHECK_EQ_INT(rc, RTPJPEG_ACCEPTED); /* never COMPLETE with a hole */
        CHECK(d.frame == NULL);
    }
    /* The next frame's first packet reveals the loss and is not consumed. */
    uint16_t seq_b = (uint16_t)(10 + a.n);
    int rc = rtpjpeg_depacketize_push(&d, b.data[0], b.len[0], 4000, false, seq_b, &err);
    CHECK_EQ_INT(rc, RTPJPEG_INCOMPLETE);
    CHECK_EQ_INT(d.incomplete.timestamp, 1000);
    CHECK(d.incomplete.end_known);
    CHECK_EQ_INT(d.incomplete.nmissing, 1);
    CHECK_EQ_INT(d.incomplete.missing[0].offset, scan_offset(&a, lost));
    CHECK_EQ_INT(d.incomplete.missing[0].len, scan_bytes(&a, lost));
    CHECK_EQ_INT(d.incomplete.packets, a.n - 1);
    CHECK_EQ_INT(d.incomplete.first_seq, 10);
    CHECK_EQ_INT(d.incomplete.last_seq, 10 + a.n - 1);
    CHECK_EQ_INT(d.incomplete.received + d.incomplete.missing[0].len, d.incomplete.scan_len);
    /* The lost packet arriving now is late: its frame is gone. */
    CHECK_EQ_INT(rtpjpeg_depacketize_push(&d, a.data[lost], a.len[lost], 1000, false,
                                          (uint16_t)(10 + lost), &err), RTPJPEG_LATE);
    /* Frame b goes through whole. */
    CHECK_EQ_INT(push_order(&d, &b, NULL, b.n, 4000, seq_b, &err), RTPJPEG_COMPLETE);
    CHECK(d.frame != NULL);
    CHECK_EQ_INT(d.frame_info.timestamp, 4000);
    payloads_free(&a);
    payloads_free(&b);
}

static void test_lost_first_and_last_fragments(void)
{
    struct payloads a, b;
    two_frames(&a, &b, 0);
    struct rtpjpeg_depacketizer d;
    struct wire_error err;
    rtpjpeg_depacketizer_init(&d, frame_buf, sizeof frame_buf, &err);
    /* First fragment lost. */
    for (size_t i = 1; i < a.n; i++)
        CHECK_EQ_INT(rtpjpeg_depacketize_push(&d, a.data[i], a.len[i], 1, i + 1 == a.n,
                                              (uint16_t)i, &err), RTPJPEG_ACCEPTED);
    CHECK_EQ_INT(rtpjpeg_depacketize_flush(&d), RTPJPEG_INCOMPLETE);
    CHECK_EQ_INT(d.incomplete.nmissing, 1);
    CHECK_EQ_INT(d.incomplete.missing[0].offset, 0);
    CHECK_EQ_INT(d.incomplete.missing[0].len, scan_bytes(&a, 0));
    CHECK_EQ_INT(rtpjpeg_depacketize_flush(&d), 0);
    /* Last (marker) fragment lost: the end is unknown. */
    uint16_t base = 1000;
    for (size_t i = 0; i + 1 < b.n; i++)
        CHECK_EQ_INT(rtpjpeg_depacketize_push(&d, b.data[i], b.len[i], 2, false,
                                              (uint16_t)(base + i), &err), RTPJPEG_ACCEPTED);
    CHECK_EQ_INT(rtpjpeg_depacketize_flush(&d), RTPJPEG_INCOMPLETE);
    CHECK(!d.incomplete.end_known);
    CHECK_EQ_INT(d.incomplete.nmissing, 1);
    CHECK_EQ_INT(d.incomplete.missing[0].offset, scan_offset(&b, b.n - 1));
    CHECK_EQ_INT(d.incomplete.missing[0].len, 0);
    /* Two holes are both reported, in order. */
    rtpjpeg_depacketizer_reset(&d);
    for (size_t i = 0; i < a.n; i++) {
        if (i == 1 || i == 3)
            continue;
        rtpjpeg_depacketize_push(&d, a.data[i], a.len[i], 5, i + 1 == a.n, (uint16_t)i, &err);
    }
    CHECK_EQ_INT(rtpjpeg_depacketize_flush(&d), RTPJPEG_INCOMPLETE);
    CHECK_EQ_INT(d.incomplete.nmissing, 2);
    CHECK_EQ_INT(d.incomplete.missing[0].offset, scan_offset(&a, 1));
    CHECK_EQ_INT(d.incomplete.missing[1].offset, scan_offset(&a, 3));
    CHECK_EQ_INT(d.incomplete.missing[1].len, scan_bytes(&a, 3));
    payloads_free(&a);
    payloads_free(&b);
}

static void test_reordered_fragments_complete(void)
{
    struct payloads a, b;
    two_frames(&a, &b, 0);
    struct rtpjpeg_depacketizer d;
    struct wire_error err;
    rtpjpeg_depacketizer_init(&d, frame_buf, sizeof frame_buf, &err);
    CHECK_EQ_INT(push_order(&d, &a, NULL, a.n, 1, 0, &err), RTPJPEG_COMPLETE);
    size_t ref_len = d.frame_len;
    uint8_t *ref = malloc(ref_len);
    memcpy(ref, d.frame, ref_len);

    size_t *order = malloc(a.n * sizeof *order);
    /* Reversed: the marker packet comes first. */
    for (size_t i = 0; i < a.n; i++)
        order[i] = a.n - 1 - i;
    rtpjpeg_depacketizer_reset(&d);
    CHECK_EQ_INT(push_order(&d, &a, order, a.n, 1, 0, &err), RTPJPEG_COMPLETE);
    CHECK(d.frame_len == ref_len && memcmp(d.frame, ref, ref_len) == 0);
    /* Shuffled, several seeds; every fragment but the last push is ACCEPTED. */
    for (uint32_t seed = 1; seed <= 20; seed++) {
        for (size_t i = 0; i < a.n; i++)
            order[i] = i;
        uint32_t r = seed;
        for (size_t i = a.n - 1; i > 0; i--) {
            r = r * 1103515245u + 12345u;
            size_t j = (r >> 8) % (i + 1);
            size_t t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        rtpjpeg_depacketizer_reset(&d);
        CHECK_EQ_INT(push_order(&d, &a, order, a.n, 1, 0, &err), RTPJPEG_COMPLETE);
        CHECK(d.frame_len == ref_len && memcmp(d.frame, ref, ref_len) == 0);
    }
    free(order);
    free(ref);
    payloads_free(&a);
    payloads_free(&b);
}

static void test_duplicates_and_late_packets(void)
{
    struct payloads a, b;
    two_frames(&a, &b, 0);
    struct rtpjpeg_depacketizer d;
    struct wire_error err;
    rtpjpeg_depacketizer_init(&d, frame_buf, sizeof frame_buf, &err);
    int completes = 0;
    for (size_t i = 0; i < a.n; i++) {
        for (int rep = 0; rep < 2; rep++) {
            int rc = rtpjpeg_depacketize_push(&d, a.data[i], a.len[i], 7, i + 1 == a.n,
                                              (uint16_t)(65530 + i), &err);
            if (rc == RTPJPEG_COMPLETE)
                completes++;
            else if (i + 1 == a.n)
                CHECK_EQ_INT(rc, RTPJPEG_LATE); /* the duplicate of the marker packet */
            else
                CHECK_EQ_INT(rc, RTPJPEG_ACCEPTED);
        }
    }
    CHECK_EQ_INT(completes, 1); /* sequence numbers wrapped inside the frame */
    /* A late copy of the finished frame is ignored, not a new frame. */
    CHECK_EQ_INT(rtpjpeg_depacketize_push(&d, a.data[0], a.len[0], 7, false, 65530, &err), RTPJPEG_LATE);
    CHECK_EQ_INT(rtpjpeg_depacketize_flush(&d), 0);
    /* Next frame right after the wrap; a payload far in the past (beyond the
     * late window) is a jump in the stream: it starts a frame. */
    uint16_t base = (uint16_t)(65530 + a.n);
    CHECK_EQ_INT(push_order(&d, &b, NULL, b.n, 8, base, &err), RTPJPEG_COMPLETE);
    CHECK_EQ_INT(rtpjpeg_depacketize_push(&d, a.data[0], a.len[0], 9, false,
                                          (uint16_t)(base - 5000), &err), RTPJPEG_ACCEPTED);
    payloads_free(&a);
    payloads_free(&b);
}

static void test_same_timestamp_after_marker_is_new_frame(void)
{
    struct payloads a, b;
    two_frames(&a, &b, 0);
    struct rtpjpeg_depacketizer d;
    struct wire_error err;
    rtpjpeg_depacketizer_init(&d, frame_buf, sizeof frame_buf, &err);
    /* Frame a loses a middle fragment; frame b reuses the timestamp (a lab-style
     * sender): it still starts a new frame because it follows the marker. */
    for (size_t i = 0; i < a.n; i++)
        if (i != 1)
            rtpjpeg_depacketize_push(&d, a.data[i], a.len[i], 42, i + 1 == a.n, (uint16_t)i, &err);
    int rc = rtpjpeg_depacketize_push(&d, b.data[0], b.len[0], 42, false, (uint16_t)a.n, &err);
    CHECK_EQ_INT(rc, RTPJPEG_INCOMPLETE);
    CHECK_EQ_INT(push_order(&d, &b, NULL, b.n, 42, (uint16_t)a.n, &err), RTPJPEG_COMPLETE);
    payloads_free(&a);
    payloads_free(&b);
}

/* Make frame payloads whose first packet carries Q=q with length-0 tables. */
static void strip_tables(struct payloads *ps)
{
    uint8_t *p = ps->data[0];
    size_t qlen = wire_get_be16(p + 10);
    memmove(p + 12, p + 12 + qlen, ps->len[0] - 12 - qlen);
    wire_put_be16(p + 10, 0);
    ps->len[0] -= qlen;
}

static void test_qtable_cache(void)
{
    struct payloads a, b;
    two_frames(&a, &b, 200);
    struct rtpjpeg_depacketizer d;
    struct wire_error err;
    rtpjpeg_depacketizer_init(&d, frame_buf, sizeof frame_buf, &err);
    CHECK_EQ_INT(push_order(&d, &a, NULL, a.n, 1, 0, &err), RTPJPEG_COMPLETE);
    size_t ref_len = d.frame_len;
    uint8_t *ref = malloc(ref_len);
    memcpy(ref, d.frame, ref_len);
    CHECK_EQ_INT(push_order(&d, &b, NULL, b.n, 2, 100, &err), RTPJPEG_COMPLETE);
    /* Frame a again with length-0 tables: the cached Q=200 tables rebuild it. */
    strip_tables(&a);
    CHECK_EQ_INT(push_order(&d, &a, NULL, a.n, 3, 200, &err), RTPJPEG_COMPLETE);
    CHECK(d.frame_len == ref_len && memcmp(d.frame, ref, ref_len) == 0);
    /* With Q=201 nothing is cached: an error for that frame, which is dropped. */
    for (size_t i = 0; i < a.n; i++)
        a.data[i][5] = 201;
    int rc = push_order(&d, &a, NULL, a.n, 4, 300, &err);
    CHECK_EQ_INT(rc, WIRE_ERROR);
    CHECK(err.reason && strstr(err.reason, "never came"));
    CHECK_EQ_INT(rtpjpeg_depacketize_flush(&d), 0);
    /* After a reset the cache is empty too. */
    rtpjpeg_depacketizer_reset(&d);
    for (size_t i = 0; i < a.n; i++)
        a.data[i][5] = 200;
    CHECK_EQ_INT(push_order(&d, &a, NULL, a.n, 5, 400, &err), WIRE_ERROR);
    /* Q=255 with length 0 is refused outright. */
    a.data[0][5] = 255;
    CHECK_EQ_INT(rtpjpeg_depacketize_push(&d, a.data[0], a.len[0], 6, false, 500, &err), WIRE_ERROR);
    CHECK(strstr(err.reason, "Q=255") != NULL);
    free(ref);
    payloads_free(&a);
    payloads_free(&b);
}

static void test_eoi_in_last_fragment_not_doubled(void)
{
    struct rtpjpeg_depacketizer d;
    struct wire_error err;
    rtpjpeg_depacketizer_init(&d, frame_buf, sizeof frame_buf, &err);
    const uint8_t p[] = {0, 0, 0, 0, 1, 50, 2, 2, 0x12, 0x34, 0xFF, 0xD9};
    CHECK_EQ_INT(rtpjpeg_depacketize_push(&d, p, sizeof p, 1, true, 1, &err), RTPJPEG_COMPLETE);
    CHECK_EQ_INT(d.frame[d.frame_len - 1], 0xD9);
    CHECK(d.frame[d.frame_len - 3] == 0x34);
    struct jpeg_info info;
    CHECK_EQ_INT(jpeg_parse(d.frame, d.frame_len, &info, &err), d.frame_len);
    CHECK_EQ_INT(info.width, 16);
    CHECK_EQ_INT(d.frame_info.q, 50);
}

/* Expect a packetizer refusal whose reason contains want. */
static void expect_pack_err(const uint8_t *jpeg, size_t len, uint8_t q, size_t max_payload, const char *want)
{
    struct rtpjpeg_packetizer p;
    struct rtpjpeg_options o = {.max_payload = max_payload, .q = q};
    struct wire_error err = {0, NULL};
    int rc = rtpjpeg_packetizer_init(&p, jpeg, len, &o, &err);
    CHECK_EQ_INT(rc, WIRE_ERROR);
    if (rc == WIRE_ERROR && (!err.reason || !strstr(err.reason, want))) {
        fprintf(stderr, "expected \"%s\", got \"%s\"\n", want, err.reason ? err.reason : "(null)");
        CHECK(!"wrong packetizer error");
    }
}

static void test_packetizer_errors(void)
{
    size_t len;
    uint8_t *j;
    j = compress(64, 64, TJSAMP_420, 75, TJFLAG_PROGRESSIVE, 1, &len);
    expect_pack_err(j, len, 0, 1360, "progressive");
    free(j);
    j = compress(64, 64, TJSAMP_GRAY, 75, 0, 1, &len);
    expect_pack_err(j, len, 0, 1360, "3 components");
    free(j);
    j = compress(64, 64, TJSAMP_444, 75, 0, 1, &len);
    expect_pack_err(j, len, 0, 1360, "luma sampling");
    free(j);
    j = compress(64, 64, TJSAMP_440, 75, 0, 1, &len);
    expect_pack_err(j, len, 0, 1360, "luma sampling");
    free(j);
    j = compress(100, 64, TJSAMP_420, 75, 0, 1, &len);
    expect_pack_err(j, len, 0, 1360, "multiple of 8");
    free(j);
    j = compress(2048, 16, TJSAMP_420, 75, 0, 1, &len);
    expect_pack_err(j, len, 0, 1360, "2040");
    free(j);
    j = compress(2040, 16, TJSAMP_420, 75, 0, 1, &len);
    roundtrip(j, len, 0, "2040 wide"); /* the limit itself is fine */
    free(j);

    j = compress(64, 64, TJSAMP_420, 75, 0, 1, &len);
    expect_pack_err(j, len, 100, 1360, "reserved");
    expect_pack_err(j, len, 127, 1360, "reserved");
    expect_pack_err(j, len, 50, 1360, "not the RFC 2435 tables");
    expect_pack_err(j, len, 0, 8 + 4 + 128, "max_payload too small");
    expect_pack_err(j, len, 75, 8, "max_payload too small");
    expect_pack_err(j, len - 1, 0, 1360, "truncated"); /* the parse error comes through */
    {
        /* The smallest max_payload works: one scan byte per packet after the tables. */
        struct rtpjpeg_options o = {.max_payload = 8 + 4 + 128 + 1};
        struct payloads ps;
        struct wire_error err;
        size_t slen;
        uint8_t *small = compress(16, 16, TJSAMP_420, 75, 0, 1, &slen);
        CHECK_EQ_INT(packetize(small, slen, &o, &ps, &err), 0);
        CHECK_EQ_INT(ps.len[0], o.max_payload);
        struct rtpjpeg_packetizer p;
        rtpjpeg_packetizer_init(&p, small, slen, &o, &err);
        uint8_t out[200];
        size_t olen;
        bool last;
        CHECK_EQ_INT(rtpjpeg_packetizer_next(&p, out, 100, &olen, &last, &err), WIRE_ERROR);
        CHECK(strstr(err.reason, "output buffer") != NULL);
        CHECK_EQ_INT(rtpjpeg_packetizer_next(&p, out, sizeof out, &olen, &last, &err), 1);
        payloads_free(&ps);
        free(small);
    }

    uint8_t *m = malloc(len);
    /* Non-standard Huffman table: one AC luma value swapped. */
    memcpy(m, j, len);
    uint8_t ac_luma[17] = {0x10};
    memcpy(ac_luma + 1, jpeg_std_huffman[2].bits, 16);
    const uint8_t *at = memmem(m, len, ac_luma, sizeof ac_luma);
    CHECK(at != NULL);
    size_t k = (size_t)(at - m);
    uint8_t t = m[k + 17];
    m[k + 17] = m[k + 18];
    m[k + 18] = t;
    expect_pack_err(m, len, 0, 1360, "Annex K.3");
    /* Chroma components with different tables: Cr uses the luma table. */
    memcpy(m, j, len);
    size_t sof = find_marker(m, len, JPEG_SOF0);
    m[sof + 10 + 3 * 2 + 2] = 0;
    expect_pack_err(m, len, 0, 1360, "different quantization tables");
    /* A component pointing at a table that was never defined. */
    memcpy(m, j, len);
    m[sof + 10 + 3 * 0 + 2] = 3;
    expect_pack_err(m, len, 0, 1360, "undefined quantization table");
    /* Chroma sampled 2x1. */
    memcpy(m, j, len);
    m[sof + 10 + 3 * 1 + 1] = 0x21;
    expect_pack_err(m, len, 0, 1360, "chroma sampling");
    /* Scan components swapped (Cb and Cr order). */
    memcpy(m, j, len);
    size_t sos = find_marker(m, len, JPEG_SOS);
    m[sos + 5 + 2] = 3;
    m[sos + 5 + 4] = 2;
    expect_pack_err(m, len, 0, 1360, "frame order");
    /* Chroma coded with the luma Huffman tables. */
    memcpy(m, j, len);
    m[sos + 5 + 3] = 0x00;
    expect_pack_err(m, len, 0, 1360, "Annex K.3");
    free(m);

    /* Two scans. */
    struct jpeg_info info;
    struct wire_error err;
    CHECK(jpeg_parse(j, len, &info, &err) > 0);
    size_t eoi = info.eoi_offset;
    size_t block = eoi - sos;
    m = malloc(len + block);
    memcpy(m, j, eoi);
    memcpy(m + eoi, j + sos, block);
    memcpy(m + eoi + block, j + eoi, len - eoi);
    expect_pack_err(m, len + block, 0, 1360, "more than one scan");
    /* An empty scan. */
    memcpy(m, j, info.sos_offset + 14);
    m[sos + 14] = 0xFF;
    m[sos + 15] = JPEG_EOI;
    expect_pack_err(m, sos + 16, 0, 1360, "empty scan");
    /* A scan with only the luma component. */
    memcpy(m, j, sos);
    const uint8_t sos1[] = {0xFF, JPEG_SOS, 0, 8, 1, 1, 0, 0, 63, 0, 0x12, 0xFF, JPEG_EOI};
    memcpy(m + sos, sos1, sizeof sos1);
    expect_pack_err(m, sos + sizeof sos1, 0, 1360, "interleave");
    free(m);
    free(j);
}

/* Expect a depacketizer refusal whose reason contains want. */
static void expect_push_err(struct rtpjpeg_depacketizer *d, const uint8_t *p, size_t len, uint32_t ts,
                            bool marker, uint16_t seq, const char *want)
{
    struct wire_error err = {0, NULL};
    int rc = rtpjpeg_depacketize_push(d, p, len, ts, marker, seq, &err);
    CHECK_EQ_INT(rc, WIRE_ERROR);
    if (rc == WIRE_ERROR && (!err.reason || !strstr(err.reason, want))) {
        fprintf(stderr, "expected \"%s\", got \"%s\"\n", want, err.reason ? err.reason : "(null)");
        CHECK(!"wrong depacketizer error");
    }
}

static void test_depacketizer_header_errors(void)
{
    struct rtpjpeg_depacketizer d;
    struct wire_error err;
    uint8_t small[RTPJPEG_JFIF_HEADER_MAX + 2];
    CHECK_EQ_INT(rtpjpeg_depacketizer_init(&d, small, sizeof small, &err), WIRE_ERROR);
    CHECK_EQ_INT(rtpjpeg_depacketizer_init(&d, NULL, 1 << 20, &err), WIRE_ERROR);
    rtpjpeg_depacketizer_init(&d, frame_buf, sizeof frame_buf, &err);

    uint8_t p[600];
    memset(p, 0x11, sizeof p);
    const uint8_t base[8] = {0, 0, 0, 0, 1, 50, 4, 4};
    memcpy(p, base, 8);
    expect_push_err(&d, p, 7, 1, false, 1, "shorter than the 8-byte");
    p[0] = 1;
    expect_push_err(&d, p, 20, 1, false, 1, "type-specific");
    p[0] = 0;
    p[4] = 2;
    expect_push_err(&d, p, 20, 1, false, 1, "unsupported RTP/JPEG type");
    p[4] = 128;
    expect_push_err(&d, p, 20, 1, false, 1, "unsupported RTP/JPEG type");
    p[4] = 66;
    expect_push_err(&d, p, 20, 1, false, 1, "unsupported RTP/JPEG type");
    p[4] = 1;
    p[5] = 0;
    expect_push_err(&d, p, 20, 1, false, 1, "Q value 0");
    p[5] = 100;
    expect_push_err(&d, p, 20, 1, false, 1, "100 to 127");
    p[5] = 127;
    expect_push_err(&d, p, 20, 1, false, 1, "100 to 127");
    p[5] = 50;
    p[6] = 0;
    expect_push_err(&d, p, 20, 1, false, 1, "width or height is 0");
    p[6] = 4;
    p[7] = 0;
    expect_push_err(&d, p, 20, 1, false, 1, "width or height is 0");
    p[7] = 4;
    /* Restart marker header. */
    p[4] = 65;
    expect_push_err(&d, p, 10, 1, false, 1, "restart marker header");
    wire_put_be16(p + 8, 0);
    expect_push_err(&d, p, 20, 1, false, 1, "restart interval 0");
    wire_put_be16(p + 8, 4);
    p[4] = 1;
    /* Quantization table header. */
    p[5] = 255;
    expect_push_err(&d, p, 10, 1, false, 1, "quantization table header");
    p[8] = 1;
    expect_push_err(&d, p, 200, 1, false, 1, "MBZ");
    p[8] = 0;
    p[9] = 0;
    wire_put_be16(p + 10, 128);
    expect_push_err(&d, p, 12 + 127, 1, false, 1, "beyond the payload");
    wire_put_be16(p + 10, 64);
    expect_push_err(&d, p, 200, 1, false, 1, "does not match two tables");
    p[9] = 1; /* 16-bit luma: 128 + 64 */
    wire_put_be16(p + 10, 128);
    expect_push_err(&d, p, 300, 1, false, 1, "does not match two tables");
    wire_put_be16(p + 10, 192);
    p[12] = 0;
    p[13] = 0;
    expect_push_err(&d, p, 300, 1, false, 1, "entry is 0");
    p[9] = 0;
    wire_put_be16(p + 10, 128);
    p[12 + 70] = 0;
    expect_push_err(&d, p, 300, 1, false, 1, "entry is 0");
    memset(p + 12, 0x11, 128);
    CHECK_EQ_INT(rtpjpeg_depacketize_push(&d, p, 300, 1, false, 1, &err), RTPJPEG_ACCEPTED);
    /* Tables are only read at offset 0: at offset 160 the same bytes are scan data. */
    wire_put_be24(p + 1, 160);
    CHECK_EQ_INT(rtpjpeg_depacketize_push(&d, p, 300, 1, false, 2, &err), RTPJPEG_ACCEPTED);
    CHECK_EQ_INT(rtpjpeg_depacketize_flush(&d), RTPJPEG_INCOMPLETE);
    CHECK_EQ_INT(d.incomplete.received, 160 + 292);
}

static void test_depacketizer_frame_errors(void)
{
    struct rtpjpeg_depacketizer d;
    struct wire_error err;
    rtpjpeg_depacketizer_init(&d, frame_buf, sizeof frame_buf, &err);
    uint8_t p[200];
    memset(p, 0x22, sizeof p);
    const uint8_t base[8] = {0, 0, 0, 0, 65, 50, 4, 4};
    memcpy(p, base, 8);
    wire_put_be16(p + 8, 2);
    wire_put_be16(p + 10, 0xFFFF);
    CHECK_EQ_INT(rtpjpeg_depacketize_push(&d, p, 50, 10, false, 100, &err), RTPJPEG_ACCEPTED);
    uint8_t q[200];
    /* Inconsistent headers within one frame are refused; the frame goes on. */
    memcpy(q, p, sizeof q);
    wire_put_be24(q + 1, 38);
    q[4] = 64;
    expect_push_err(&d, q, 50, 10, false, 101, "type changes");
    q[4] = 65;
    q[5] = 51;
    expect_push_err(&d, q, 50, 10, false, 101, "Q changes");
    q[5] = 50;
    q[6] = 5;
    expect_push_err(&d, q, 50, 10, false, 101, "width or height changes");
    q[6] = 4;
    q[7] = 5;
    expect_push_err(&d, q, 50, 10, false, 101, "width or height changes");
    q[7] = 4;
    wire_put_be16(q + 8, 3);
    expect_push_err(&d, q, 50, 10, false, 101, "restart interval changes");
    wire_put_be16(q + 8, 2);
    /* Marker packet rules. */
    wire_put_be24(q + 1, 10);
    expect_push_err(&d, q, 12, 10, true, 101, "before data already received");
    wire_put_be24(q + 1, 38);
    CHECK_EQ_INT(rtpjpeg_depacketize_push(&d, q, 50, 10, false, 101, &err), RTPJPEG_ACCEPTED);
    wire_put_be24(q + 1, 200);
    CHECK_EQ_INT(rtpjpeg_depacketize_push(&d, q, 50, 10, true, 105, &err), RTPJPEG_ACCEPTED);
    expect_push_err(&d, q, 51, 10, true, 105, "different frame end");
    wire_put_be24(q + 1, 230);
    expect_push_err(&d, q, 50, 10, false, 103, "beyond the frame end");
    /* A packet with another timestamp inside the frame's sequence range. */
    wire_put_be24(q + 1, 76);
    expect_push_err(&d, q, 50, 11, false, 103, "timestamp changes inside");
    CHECK_EQ_INT(rtpjpeg_depacketize_flush(&d), RTPJPEG_INCOMPLETE);
    CHECK_EQ_INT(d.incomplete.nmissing, 1);
    CHECK_EQ_INT(d.incomplete.missing[0].offset, 76);
    CHECK_EQ_INT(d.incomplete.missing[0].len, 200 - 76);
    CHECK_EQ_INT(d.incomplete.scan_len, 238);

    /* A marker packet with no scan data at offset 0. */
    rtpjpeg_depacketizer_reset(&d);
    wire_put_be24(q + 1, 0);
    expect_push_err(&d, q, 12, 20, true, 1, "no scan data");
    /* Beyond the buffer capacity. */
    uint8_t little[RTPJPEG_JFIF_HEADER_MAX + 100];
    rtpjpeg_depacketizer_init(&d, little, sizeof little, &err);
    CHECK_EQ_INT(rtpjpeg_depacketize_push(&d, q, 12 + 98, 30, false, 1, &err), RTPJPEG_ACCEPTED);
    wire_put_be24(q + 1, 98);
    expect_push_err(&d, q, 13, 30, true, 2, "capacity");
    /* Too many disjoint fragments. */
    rtpjpeg_depacketizer_init(&d, frame_buf, sizeof frame_buf, &err);
    for (unsigned i = 0; i < RTPJPEG_MAX_RANGES; i++) {
        wire_put_be24(q + 1, 100 * i + 50);
        CHECK_EQ_INT(rtpjpeg_depacketize_push(&d, q, 20, 40, false, (uint16_t)(10 + i), &err),
                     RTPJPEG_ACCEPTED);
    }
    CHECK_EQ_INT(d.nranges, RTPJPEG_MAX_RANGES);
    wire_put_be24(q + 1, 100 * RTPJPEG_MAX_RANGES + 50);
    expect_push_err(&d, q, 20, 40, false, 200, "too many disjoint");
    /* Filling a hole merges ranges and is accepted again. */
    wire_put_be24(q + 1, 50);
    CHECK_EQ_INT(rtpjpeg_depacketize_push(&d, q, 12 + 100, 40, false, 201, &err), RTPJPEG_ACCEPTED);
    CHECK_EQ_INT(d.nranges, RTPJPEG_MAX_RANGES - 1);
    CHECK_EQ_INT(rtpjpeg_depacketize_flush(&d), RTPJPEG_INCOMPLETE);
    CHECK(!d.incomplete.end_known);
    CHECK_EQ_INT(d.incomplete.nmissing, RTPJPEG_MAX_RANGES);
    CHECK_EQ_INT(d.incomplete.missing[0].offset, 0);
    CHECK_EQ_INT(d.incomplete.missing[0].len, 50);
}

int main(void)
{
    RUN(test_max_payload_for_mtu);
    RUN(test_make_tables_match_libjpeg_quality);
    RUN(test_write_headers_parse);
    RUN(test_roundtrip_turbojpeg_matrix);
    RUN(test_payload_headers);
    RUN(test_roundtrip_restart_markers);
    RUN(test_roundtrip_16bit_tables);
    RUN(test_roundtrip_movie_fixture);
    RUN(test_frame_comment_not_carried);
    RUN(test_lost_middle_fragment_is_incomplete);
    RUN(test_lost_first_and_last_fragments);
    RUN(test_reordered_fragments_complete);
    RUN(test_duplicates_and_late_packets);
    RUN(test_same_timestamp_after_marker_is_new_frame);
    RUN(test_qtable_cache);
    RUN(test_eoi_in_last_fragment_not_doubled);
    RUN(test_packetizer_errors);
    RUN(test_depacketizer_header_errors);
    RUN(test_depacketizer_frame_errors);
    CHECK_DONE();
}
