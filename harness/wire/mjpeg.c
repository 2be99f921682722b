/* Reader and writer for the lab's movie.Mjpeg container (see mjpeg.h). */
#include "mjpeg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char reason_digits[] = "length field is not 5 decimal digits";
static const char reason_zero[] = "frame length is zero";
static const char reason_soi[] = "frame does not start with SOI FFD8";
static const char reason_truncated[] = "truncated frame";
static const char reason_trailing[] = "trailing garbage shorter than a length field";

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/* Checks the n (<= 5) bytes of a length field that are present. A complete
 * field yields its value; a partial one is only checked as a prefix, so a
 * stream reader can tell "wait for more" from "never valid". */
static bool length_field_ok(const uint8_t *p, size_t n, bool lenient, bool *padded,
                            uint32_t *value)
{
    *padded = false;
    *value = 0;
    if (!lenient) {
        for (size_t i = 0; i < n; i++) {
            if (!is_digit(p[i]))
                return false;
            *value = *value * 10 + (uint32_t)(p[i] - '0');
        }
        return true;
    }
    /* lenient: spaces*, digits+, spaces* */
    size_t i = 0;
    while (i < n && p[i] == ' ')
        i++;
    size_t digits_start = i;
    while (i < n && is_digit(p[i])) {
        *value = *value * 10 + (uint32_t)(p[i] - '0');
        i++;
    }
    size_t digits_end = i;
    while (i < n && p[i] == ' ')
        i++;
    if (i != n)
        return false;
    /* all spaces is a valid prefix but never a complete field */
    if (n == MJPEG_LENGTH_DIGITS && digits_end == digits_start)
        return false;
    *padded = digits_start > 0 || digits_end < n;
    return true;
}

int mjpeg_parse_record(const uint8_t *buf, size_t len, bool lenient, const uint8_t **frame,
                       size_t *frame_len, struct wire_error *err)
{
    size_t have = len < MJPEG_LENGTH_DIGITS ? len : MJPEG_LENGTH_DIGITS;
    bool padded;
    uint32_t n;
    if (!length_field_ok(buf, have, lenient, &padded, &n))
        return wire_fail(err, 0, reason_digits);
    if (have < MJPEG_LENGTH_DIGITS)
        return WIRE_INCOMPLETE;
    if (n == 0)
        return wire_fail(err, 0, reason_zero);
    const uint8_t *jpeg = buf + MJPEG_LENGTH_DIGITS;
    size_t avail = len - MJPEG_LENGTH_DIGITS;
    /* check SOI on whatever is present: a wrong first byte is final */
    if ((avail >= 1 && jpeg[0] != 0xFF) || (avail >= 2 && jpeg[1] != 0xD8) ||
        (n == 1 && avail >= 1))
        return wire_fail(err, MJPEG_LENGTH_DIGITS, reason_soi);
    if (avail < n)
        return WIRE_INCOMPLETE;
    *frame = jpeg;
    *frame_len = n;
    return (int)(MJPEG_LENGTH_DIGITS + n);
}

void mjpeg_reader_init(struct mjpeg_reader *r, const uint8_t *buf, size_t len)
{
    memset(r, 0, sizeof *r);
    r->buf = buf;
    r->len = len;
}

/* Render up to n bytes for a message: printable ASCII as is, the rest as \xNN. */
static void quote_bytes(const uint8_t *p, size_t n, char *out, size_t size)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char piece[5];
        if (p[i] >= 0x20 && p[i] < 0x7F && p[i] != '"' && p[i] != '\\') {
            piece[0] = (char)p[i];
            piece[1] = '\0';
        } else {
            snprintf(piece, sizeof piece, "\\x%02x", p[i]);
        }
        size_t pl = strlen(piece);
        if (o + pl + 1 > size)
            break;
        memcpy(out + o, piece, pl + 1);
        o += pl;
    }
}

static int reader_fail(struct mjpeg_reader *r, struct wire_error *err, size_t offset,
                       const char *reason)
{
    r->failed = true;
    r->error.offset = offset;
    r->error.reason = reason;
    if (err)
        *err = r->error;
    return WIRE_ERROR;
}

int mjpeg_next(struct mjpeg_reader *r, const uint8_t **frame, size_t *frame_len,
               struct wire_error *err)
{
    if (r->failed) {
        if (err)
            *err = r->error;
        return WIRE_ERROR;
    }
    if (r->offset == r->len)
        return 0;

    const uint8_t *p = r->buf + r->offset;
    size_t remain = r->len - r->offset;
    char quoted[24];

    if (remain < MJPEG_LENGTH_DIGITS) {
        quote_bytes(p, remain, quoted, sizeof quoted);
        snprintf(r->detail, sizeof r->detail, "%s (%zu byte%s: \"%s\")", reason_trailing, remain,
                 remain == 1 ? "" : "s", quoted);
        return reader_fail(r, err, r->offset, reason_trailing);
    }

    struct wire_error e = {0, NULL};
    int rc = mjpeg_parse_record(p, remain, r->lenient, frame, frame_len, &e);
    if (rc > 0) {
        bool padded;
        uint32_t n;
        length_field_ok(p, MJPEG_LENGTH_DIGITS, r->lenient, &padded, &n);
        if (padded)
            r->forgiven++;
        r->offset += (size_t)rc;
        r->index++;
        return 1;
    }

    if (rc == WIRE_INCOMPLETE) {
        /* the field is complete (remain >= 5), so only the JPEG can be short */
        bool padded;
        uint32_t n;
        length_field_ok(p, MJPEG_LENGTH_DIGITS, r->lenient, &padded, &n);
        snprintf(r->detail, sizeof r->detail, "%s (length says %u, only %zu bytes remain)",
                 reason_truncated, n, remain - MJPEG_LENGTH_DIGITS);
        return reader_fail(r, err, r->offset, reason_truncated);
    }

    if (e.reason == reason_digits) {
        quote_bytes(p, MJPEG_LENGTH_DIGITS, quoted, sizeof quoted);
        snprintf(r->detail, sizeof r->detail, "length field \"%s\" is not 5 decimal digits%s",
                 quoted, r->lenient ? " (even space-padded)" : "");
    } else if (e.reason == reason_soi) {
        const uint8_t *jpeg = p + MJPEG_LENGTH_DIGITS;
        size_t avail = remain - MJPEG_LENGTH_DIGITS;
        bool padded;
        uint32_t n;
        length_field_ok(p, MJPEG_LENGTH_DIGITS, r->lenient, &padded, &n);
        if (n == 1)
            snprintf(r->detail, sizeof r->detail, "%s (length field says 1 byte)", reason_soi);
        else if (avail >= 2)
            snprintf(r->detail, sizeof r->detail, "%s (found %02X%02X)", reason_soi, jpeg[0],
                     jpeg[1]);
        else
            snprintf(r->detail, sizeof r->detail, "%s (found %02X, then end of file)", reason_soi,
                     jpeg[0]);
    } else {
        snprintf(r->detail, sizeof r->detail, "%s", e.reason);
    }
    return reader_fail(r, err, r->offset + e.offset, e.reason);
}

int mjpeg_format_error(const struct mjpeg_reader *r, const char *name, char *out, size_t size)
{
    if (!r->failed)
        return snprintf(out, size, "%s: no error", name);
    return snprintf(out, size, "%s: frame %zu at byte %zu: %s", name, r->index, r->error.offset,
                    r->detail);
}

int mjpeg_read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *len, char *msg,
                    size_t msg_size)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(msg, msg_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        snprintf(msg, msg_size, "%s: out of memory", path);
        return -1;
    }
    for (;;) {
        if (n == cap) {
            if (cap > max_bytes) {
                free(buf);
                fclose(f);
                snprintf(msg, msg_size, "%s: file is larger than the limit of %zu bytes", path,
                         max_bytes);
                return -1;
            }
            uint8_t *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                fclose(f);
                snprintf(msg, msg_size, "%s: out of memory", path);
                return -1;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int failed = ferror(f);
    int saved = errno;
    fclose(f);
    if (failed) {
        free(buf);
        snprintf(msg, msg_size, "%s: read error: %s", path, strerror(saved));
        return -1;
    }
    if (n > max_bytes) {
        free(buf);
        snprintf(msg, msg_size, "%s: file is larger than the limit of %zu bytes", path,
                 max_bytes);
        return -1;
    }
    *data = buf;
    *len = n;
    return 0;
}

void mjpeg_writer_init_file(struct mjpeg_writer *w, FILE *file)
{
    memset(w, 0, sizeof *w);
    w->file = file;
}

void mjpeg_writer_init_mem(struct mjpeg_writer *w)
{
    memset(w, 0, sizeof *w);
}

static int mem_append(struct mjpeg_writer *w, const void *p, size_t n)
{
    if (w->cap - w->len < n) {
        size_t cap = w->cap ? w->cap : 1 << 16;
        while (cap - w->len < n)
            cap *= 2;
        uint8_t *bigger = realloc(w->buf, cap);
        if (!bigger)
            return -1;
        w->buf = bigger;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
    return 0;
}

int mjpeg_writer_add(struct mjpeg_writer *w, const uint8_t *jpeg, size_t len)
{
    if (len == 0) {
        snprintf(w->error, sizeof w->error, "frame %zu: empty frame", w->frames);
        return -1;
    }
    if (len > MJPEG_MAX_FRAME) {
        snprintf(w->error, sizeof w->error,
                 "frame %zu: %zu bytes does not fit the 5-digit length field (at most %u)",
                 w->frames, len, MJPEG_MAX_FRAME);
        return -1;
    }
    if (len < 2 || jpeg[0] != 0xFF || jpeg[1] != 0xD8) {
        snprintf(w->error, sizeof w->error, "frame %zu: %s", w->frames, reason_soi);
        return -1;
    }
    char field[MJPEG_LENGTH_DIGITS + 1];
    snprintf(field, sizeof field, "%05zu", len);
    if (w->file) {
        if (fwrite(field, 1, MJPEG_LENGTH_DIGITS, w->file) != MJPEG_LENGTH_DIGITS ||
            fwrite(jpeg, 1, len, w->file) != len) {
            snprintf(w->error, sizeof w->error, "frame %zu: write error: %s", w->frames,
                     strerror(errno));
            return -1;
        }
    } else {
        size_t before = w->len;
        if (mem_append(w, field, MJPEG_LENGTH_DIGITS) != 0 || mem_append(w, jpeg, len) != 0) {
            w->len = before;
            snprintf(w->error, sizeof w->error, "frame %zu: out of memory", w->frames);
            return -1;
        }
    }
    w->frames++;
    return 0;
}

void mjpeg_writer_free(struct mjpeg_writer *w)
{
    free(w->buf);
    w->buf = NULL;
    w->len = w->cap = 0;
}
