/* libFuzzer target for the lab .Mjpeg reader: reads the input as a whole
 * file, in strict and lenient mode, until the end or an error, and checks
 * that every frame lies inside the input, offsets only grow, and the error
 * message can be formatted. The first byte picks the mode so the corpus
 * can steer it; the rest is the file. */
#include <stdlib.h>
#include <string.h>

#include "mjpeg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run(const uint8_t *data, size_t size, bool lenient)
{
    struct mjpeg_reader r;
    mjpeg_reader_init(&r, data, size);
    r.lenient = lenient;
    size_t last_offset = 0, frames = 0;
    const uint8_t *frame;
    size_t frame_len;
    struct wire_error err;
    int rc;
    while ((rc = mjpeg_next(&r, &frame, &frame_len, &err)) == 1) {
        if (frame < data || frame_len == 0 || frame_len > MJPEG_MAX_FRAME ||
            frame_len > size || (size_t)(frame - data) > size - frame_len)
            abort();
        if (frame[0] != 0xFF || frame[1] != 0xD8)
            abort();
        if (r.offset <= last_offset || r.offset != (size_t)(frame - data) + frame_len)
            abort();
        last_offset = r.offset;
        frames++;
        if (r.index != frames)
            abort();
    }
    if (rc == 0) {
        if (r.offset != size)
            abort();
        return;
    }
    if (rc != WIRE_ERROR || err.reason == NULL || err.offset > size || err.offset < r.offset ||
        r.index != frames)
        abort();
    char msg[256];
    int n = mjpeg_format_error(&r, "fuzz.Mjpeg", msg, sizeof msg);
    if (n <= 0 || strlen(msg) >= sizeof msg)
        abort();
    /* the same prefix fed record by record agrees with the reader */
    const uint8_t *f2;
    size_t l2;
    struct wire_error e2;
    if (mjpeg_parse_record(data + r.offset, size - r.offset, lenient, &f2, &l2, &e2) > 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    run(data + 1, size - 1, data[0] & 1);
    return 0;
}
