/* libFuzzer target for the RFC 2435 depacketizer and the JPEG parser.
 *
 * Each input is used two ways:
 * 1. As a packet stream fed to the depacketizer, once with a frame buffer
 *    barely larger than the JFIF headers and once with a large one. Records:
 *    flags (1 byte), length (2 bytes, big-endian), payload. Flags: bit 0 the
 *    RTP marker bit, bit 1 a new timestamp, bits 2-7 the sequence step - 8
 *    (so packets can go back, repeat and jump).
 * 2. As a JPEG: when jpeg_parse accepts it and the packetizer can carry it,
 *    the payloads are depacketized in order and in reverse, and the rebuilt
 *    frame must parse and carry byte-identical scan data; abort() otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jpeg.h"
#include "rtpjpeg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t small_buf[RTPJPEG_JFIF_HEADER_MAX + 600];
static uint8_t large_buf[RTPJPEG_JFIF_HEADER_MAX + (1u << 20)];

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_rtpjpeg: %s\n", what);
    abort();
}

/* Invariants of a dropped frame's report. */
static void check_incomplete(const struct rtpjpeg_incomplete *inc)
{
    uint64_t missing = 0;
    uint32_t pos = 0;
    if (inc->nmissing == 0 || inc->nmissing > RTPJPEG_MAX_RANGES + 1)
        fail("incomplete frame with no or too many missing ranges");
    for (size_t i = 0; i < inc->nmissing; i++) {
        const struct rtpjpeg_range *r = &inc->missing[i];
        if (r->offset < pos || (i > 0 && r->offset == pos))
            fail("missing ranges out of order or touching");
        if (r->len == 0 && (inc->end_known || i + 1 != inc->nmissing))
            fail("open-ended missing range where the end is known");
        missing += r->len;
        pos = r->offset + r->len;
    }
    if (inc->end_known && missing + inc->received != inc->scan_len)
        fail("received + missing differs from the frame length");
}

static void check_complete(const struct rtpjpeg_depacketizer *d, const uint8_t *buf, size_t cap)
{
    if (!d->frame || d->frame < buf || d->frame_len < 4 || d->frame + d->frame_len > buf + cap)
        fail("complete frame outside the frame buffer");
    if (d->frame[0] != 0xFF || d->frame[1] != JPEG_SOI || d->frame[d->frame_len - 2] != 0xFF ||
        d->frame[d->frame_len - 1] != JPEG_EOI)
        fail("complete frame does not run from SOI to EOI");
    struct jpeg_info info;
    struct wire_error err;
    (void)jpeg_parse(d->frame, d->frame_len, &info, &err);
}

static void feed_stream(const uint8_t *data, size_t size, uint8_t *buf, size_t cap)
{
    struct rtpjpeg_depacketizer d;
    struct wire_error err;
    if (rtpjpeg_depacketizer_init(&d, buf, cap, &err) != 0)
        fail("init refused a valid buffer");
    uint32_t ts = 1000;
    uint16_t seq = 0;
    size_t pos = 0;
    while (size - pos >= 3) {
        uint8_t flags = data[pos];
        size_t len = ((size_t)data[pos + 1] << 8) | data[pos + 2];
        pos += 3;
        if (len > size - pos)
            len = size - pos;
        if (flags & 2)
            ts += 3600;
        seq = (uint16_t)(seq + (flags >> 2) - 8);
        /* An exact-size copy so any over-read is caught. */
        uint8_t *p = malloc(len ? len : 1);
        memcpy(p, data + pos, len);
        pos += len;
        int rc = rtpjpeg_depacketize_push(&d, p, len, ts, flags & 1, seq, &err);
        if (rc == RTPJPEG_INCOMPLETE) {
            check_incomplete(&d.incomplete);
            rc = rtpjpeg_depacketize_push(&d, p, len, ts, flags & 1, seq, &err);
            if (rc == RTPJPEG_INCOMPLETE)
                fail("INCOMPLETE twice for one payload");
        }
        free(p);
        if (rc == RTPJPEG_COMPLETE)
            check_complete(&d, buf, cap);
        else if (d.frame)
            fail("frame pointer set without COMPLETE");
        if (rc == WIRE_ERROR && !err.reason)
            fail("error without a reason");
    }
    if (rtpjpeg_depacketize_flush(&d) == RTPJPEG_INCOMPLETE)
        check_incomplete(&d.incomplete);
}

static uint8_t payload_store[1u << 21];

static void roundtrip(const uint8_t *data, size_t size)
{
    struct jpeg_info orig;
    struct wire_error err;
    if (jpeg_parse(data, size, &orig, &err) < 0)
        return;
    struct rtpjpeg_options o = {.max_payload = 150 + size % 1300, .q = 0};
    struct rtpjpeg_packetizer p;
    if (rtpjpeg_packetizer_init(&p, data, size, &o, &err) != 0)
        return;
    size_t count = rtpjpeg_packetizer_count(&p);
    size_t *off = malloc((count + 1) * sizeof *off);
    size_t n = 0, used = 0, len;
    bool last = false;
    int rc;
    while ((rc = rtpjpeg_packetizer_next(&p, payload_store + used, sizeof payload_store - used,
                                         &len, &last, &err)) == 1) {
        if (n >= count || len > o.max_payload)
            fail("packetizer made more or bigger payloads than announced");
        off[n++] = used;
        used += len;
    }
    if (rc != 0 || n != count || !last)
        fail("packetizer did not finish cleanly");
    off[n] = used;
    for (int reverse = 0; reverse < 2; reverse++) {
        struct rtpjpeg_depacketizer d;
        if (rtpjpeg_depacketizer_init(&d, large_buf, sizeof large_buf, &err) != 0)
            fail("init");
        for (size_t k = 0; k < n; k++) {
            size_t i = reverse ? n - 1 - k : k;
            rc = rtpjpeg_depacketize_push(&d, payload_store + off[i], off[i + 1] - off[i], 77,
                                          i + 1 == n, (uint16_t)(65000 + i), &err);
            if (k + 1 < n && rc != RTPJPEG_ACCEPTED)
                fail("fragment of a whole frame not accepted");
        }
        if (rc != RTPJPEG_COMPLETE)
            fail("whole frame not complete");
        struct jpeg_info back;
        if (jpeg_parse(d.frame, d.frame_len, &back, &err) < 0)
            fail("rebuilt frame does not parse");
        if (back.scan.len != orig.scan.len || memcmp(back.scan.ptr, orig.scan.ptr, orig.scan.len) != 0)
            fail("rebuilt scan differs");
        if (back.width != orig.width || back.height != orig.height ||
            back.restart_interval != orig.restart_interval || !back.huffman_standard)
            fail("rebuilt frame header differs");
        for (unsigned c = 0; c < 3; c++) {
            const struct jpeg_qtable *a = &orig.qt[orig.comp[c].tq], *b = &back.qt[back.comp[c].tq];
            if (memcmp(a->value, b->value, sizeof a->value) != 0 ||
                orig.comp[c].h != back.comp[c].h || orig.comp[c].v != back.comp[c].v)
                fail("rebuilt tables or sampling differ");
        }
    }
    free(off);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    feed_stream(data, size, small_buf, sizeof small_buf);
    feed_stream(data, size, large_buf, sizeof large_buf);
    roundtrip(data, size);
    return 0;
}
