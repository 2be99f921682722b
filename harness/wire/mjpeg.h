/* The lab's movie.Mjpeg container (PROTOCOL.md section 1): a bare sequence
 * of records, each 5 ASCII decimal digits giving a JPEG's length in bytes,
 * then that JPEG. No header, no index, no trailer.
 *
 * The reader is strict by default: a length field is exactly 5 bytes '0'-'9'
 * (the writer zero-pads, as every lab tool does), the length is 1..99999,
 * and each JPEG starts with SOI (FF D8). A lenient mode also accepts a
 * space-padded field ("  512" or "512  "), which Python's int() in the
 * lab's VideoStream.py accepts too; it counts the records it forgave so a
 * report can say so. Nothing else is forgiven in either mode.
 *
 * Errors name the 0-based frame index and a byte offset:
 *   movie.Mjpeg: frame 17 at byte 123456: length field "12a45" is not 5 decimal digits
 * The offset is that of the record's length field, except for a JPEG that
 * does not start with SOI, where it is the JPEG's first byte.
 */
#ifndef RTSP_HARNESS_MJPEG_H
#define RTSP_HARNESS_MJPEG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "wire.h"

#define MJPEG_LENGTH_DIGITS 5   /* width of the ASCII length field */
#define MJPEG_MAX_FRAME 99999u  /* the largest length 5 digits can express */

/* Parse one record at the start of buf (picohttpparser shape, for callers
 * that read a stream piece by piece). Returns the bytes the record takes
 * (5 + JPEG length), WIRE_INCOMPLETE when buf is a valid prefix of a record
 * (including len == 0), or WIRE_ERROR with err->offset relative to buf.
 * On success *frame points at the JPEG inside buf. */
int mjpeg_parse_record(const uint8_t *buf, size_t len, bool lenient, const uint8_t **frame,
                       size_t *frame_len, struct wire_error *err);

/* Walks a whole file held in a caller buffer, frame by frame. */
struct mjpeg_reader {
    const uint8_t *buf;     /* the file's bytes; owned by the caller */
    size_t len;             /* number of bytes in buf */
    bool lenient;           /* accept space-padded length fields (see top of file) */
    size_t offset;          /* where the next record starts; after an error, unchanged */
    size_t index;           /* 0-based index of the next frame, or of the failed one */
    size_t forgiven;        /* records whose length field only lenient mode accepted */
    bool failed;            /* an error was reported; mjpeg_next keeps returning it */
    struct wire_error error; /* the error reported, offset relative to buf */
    char detail[96];        /* the error in words, with the values found */
};

/* Start reading buf[0..len) in strict mode; set r->lenient afterwards to forgive padding. */
void mjpeg_reader_init(struct mjpeg_reader *r, const uint8_t *buf, size_t len);

/* Next frame: 1 with *frame and *frame_len set (pointing into the buffer), 0 at
 * a clean end of file, WIRE_ERROR on a corrupt file (err, and r->error,
 * r->index, r->detail, say where and why). err may be NULL. */
int mjpeg_next(struct mjpeg_reader *r, const uint8_t **frame, size_t *frame_len,
               struct wire_error *err);

/* Write "NAME: frame I at byte O: DETAIL" for the reader's last error into
 * out (always NUL-terminated when size > 0). Returns what snprintf returns. */
int mjpeg_format_error(const struct mjpeg_reader *r, const char *name, char *out, size_t size);

/* Read a whole file into a malloc'd buffer (*data, free() it). Refuses files
 * larger than max_bytes. Returns 0, or -1 with a message naming the path in msg. */
int mjpeg_read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *len, char *msg,
                    size_t msg_size);

/* Appends records to a FILE* or to a growing memory buffer. */
struct mjpeg_writer {
    FILE *file;      /* destination stream, or NULL when writing to memory */
    uint8_t *buf;    /* memory destination (malloc'd, grows); caller frees with mjpeg_writer_free */
    size_t len;      /* bytes in buf */
    size_t cap;      /* bytes allocated for buf */
    size_t frames;   /* frames written; the index of the next frame in messages */
    char error[160]; /* message of the last failure */
};

/* Write to an open stream (the caller opens and closes it). */
void mjpeg_writer_init_file(struct mjpeg_writer *w, FILE *file);
/* Write into memory; the result is w->buf[0..w->len). */
void mjpeg_writer_init_mem(struct mjpeg_writer *w);
/* Append one JPEG. Refuses an empty frame, one that does not start with SOI
 * and one of 100000 bytes or more (5 digits cannot say its length), naming
 * the frame index; a refused frame writes nothing. Returns 0, or -1 with
 * w->error set. */
int mjpeg_writer_add(struct mjpeg_writer *w, const uint8_t *jpeg, size_t len);
/* Release the memory buffer (nothing to do for a stream writer). */
void mjpeg_writer_free(struct mjpeg_writer *w);

#endif
