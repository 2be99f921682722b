/* The media catalogue: every stream the server offers, loaded once at
 * start-up. A stream is a lab .Mjpeg file or a directory of JPEG frames in
 * the media directory. Each frame is kept whole (for the lab dialect and the
 * HTTP live view) and cut once into RFC 2435 payloads (for RTP/JPEG), so
 * sessions only add a 12-byte RTP header per packet.
 *
 * Requests never open files: a request names a stream and the name is
 * looked up here, so no request path can reach outside the media directory.
 * Entries that are symbolic links resolving outside it are not loaded. */
#ifndef RTSP_HARNESS_MEDIA_H
#define RTSP_HARNESS_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MEDIA_NAME_MAX 255      /* longest stream name */
#define MEDIA_MAX_FILE (1u << 30) /* largest media file read */

/* One frame, whole and packetized. */
struct media_frame {
    const uint8_t *jpeg;       /* the whole JPEG */
    uint32_t jpeg_len;         /* its length */
    const uint8_t *payloads;   /* RFC 2435 payloads back to back */
    uint32_t npackets;         /* number of payloads */
    uint32_t payload_size;     /* size of every payload but the last */
    uint32_t last_size;        /* size of the last payload */
};

/* One stream. */
struct media_stream {
    char name[MEDIA_NAME_MAX + 1]; /* as in the URL: movie.Mjpeg */
    double fps;                    /* frames per second */
    uint16_t width;                /* pixels (first frame) */
    uint16_t height;               /* pixels (first frame) */
    uint32_t nframes;              /* frames, at least 1 */
    struct media_frame *frames;    /* nframes of them */
    uint32_t max_packets;          /* most payloads in one frame */
    uint32_t max_jpeg;             /* largest whole frame */
    uint8_t *file_data;            /* the .Mjpeg file, or the JPEGs back to back */
    uint8_t *payload_data;         /* all frames' payloads */
};

/* Every stream, sorted by name. */
struct media_catalog {
    struct media_stream *streams; /* count of them */
    size_t count;                 /* number of streams */
    uint32_t max_packets;         /* most payloads in any frame */
    uint32_t max_jpeg;            /* largest whole frame of any stream */
};

/* Load every stream of dir. Frames are cut for RTP payloads of at most
 * max_payload bytes. Streams that cannot be loaded are named on errlog
 * (file, frame, reason) and left out. Returns the number of streams, or -1
 * when dir cannot be read (message on errlog). */
int media_load(struct media_catalog *c, const char *dir, double default_fps, size_t max_payload,
               FILE *errlog);
void media_free(struct media_catalog *c);

/* The stream called name (exact match), or NULL. */
const struct media_stream *media_find(const struct media_catalog *c, const char *name, size_t len);

/* Duration in seconds of one pass through the stream. */
double media_duration(const struct media_stream *s);

#endif
