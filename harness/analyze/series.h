/* Per-stream time series and thumbnails for the run report's plots: what
 * an RTP stream analysis (rtpstream.c) records, when asked to, besides its
 * metrics. For every complete frame its arrival, the interval to the
 * previous one and the running jitter at that moment; every sequence gap
 * that stays a gap (a late packet shrinks or removes it); and up to
 * SERIES_MAX_THUMBS small JPEGs of decoded frames: the first, the last,
 * the frames on either side of a loss, and frames that do not decode
 * cleanly.
 *
 * rtpstream.c drives a recorder through the series_record_* calls; the
 * caller of the analysis reads the result with rtp_stream_series. Memory
 * is bounded: frames and gaps are capped (then a truncated flag is set),
 * one buffer holds a copy of the last complete frame so the frame before
 * a loss can still be decoded once the loss shows, and only frames that
 * get a thumbnail are decoded. Out of memory stops recording; it never
 * fails the analysis. */
#ifndef RTSP_HARNESS_SERIES_H
#define RTSP_HARNESS_SERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SERIES_MAX_FRAMES 20000   /* complete frames recorded; later ones only set frames_truncated */
#define SERIES_MAX_GAPS 4096      /* sequence gaps recorded; later ones only set gaps_truncated */
#define SERIES_MAX_THUMBS 12      /* thumbnails per stream, the first and the last always among them */
#define SERIES_THUMB_MAX_WIDTH 160 /* pixels: the largest DCT scale (at most 1/1) that fits */
#define SERIES_THUMB_QUALITY 75   /* libjpeg quality of the thumbnails, 4:2:0 */

/* One complete frame. */
struct series_frame {
    int64_t t_ns;       /* arrival of the packet that completed it (capture clock) */
    double interval_ms; /* to the previous complete frame; NAN for the first and across a PLAY */
    double jitter_ms;   /* RFC 3550 running jitter after that packet (the one behind the stream's jitter metrics) */
    uint64_t pcap_frame; /* 1-based pcap frame of that packet */
    uint32_t rtp_ts;    /* the frame's RTP timestamp */
};

/* Sequence numbers that never arrived. */
struct series_gap {
    uint16_t first_seq; /* the first missing */
    uint32_t count;     /* how many in a row (seq wraps at 65536) */
    int64_t t_ns;       /* arrival of the packet after the gap */
    uint64_t pcap_frame; /* its pcap frame */
};

/* A decoded frame, re-encoded small. */
struct series_thumb {
    int64_t t_ns;        /* the frame's arrival (as in series_frame) */
    uint64_t pcap_frame; /* its pcap frame */
    uint32_t rtp_ts;     /* its RTP timestamp */
    const char *reason;  /* "first", "last", "before-loss", "after-loss" or "corrupt" (static strings) */
    int width;           /* thumbnail pixels */
    int height;
    unsigned char *jpeg; /* the thumbnail, baseline JPEG */
    size_t jpeg_len;     /* its bytes */
};

/* What a stream recorded; valid until the stream is freed. */
struct rtp_series {
    struct series_frame *frames; /* complete frames in capture order */
    size_t n_frames;
    bool frames_truncated;       /* more came than SERIES_MAX_FRAMES, or memory ran out */
    struct series_gap *gaps;     /* gaps in the order they showed */
    size_t n_gaps;
    bool gaps_truncated;         /* more than SERIES_MAX_GAPS, or memory ran out */
    struct series_thumb thumbs[SERIES_MAX_THUMBS]; /* in time order */
    size_t n_thumbs;
};

struct series_recorder;

/* An empty recorder; NULL when out of memory. */
struct series_recorder *series_recorder_new(void);
void series_recorder_free(struct series_recorder *r);
/* The recording so far (complete after series_record_finish). */
const struct rtp_series *series_recorder_result(const struct series_recorder *r);
/* Bytes the recorder holds on the heap, libjpeg-turbo's own state aside. */
size_t series_recorder_memory(const struct series_recorder *r);

/* Sequence numbers are given extended (RFC 3550 A.1: cycles + seq). */

/* A packet arrived `count` ahead of the highest before it: ext_first is
 * the first missing. t_ns and pcap_frame are that packet's. */
void series_record_gap(struct series_recorder *r, uint32_t ext_first, uint32_t count, int64_t t_ns,
                       uint64_t pcap_frame);
/* A late packet the loss count took back: it is no longer missing. A loss
 * whose gaps are all filled again gives no loss thumbnails. */
void series_record_late(struct series_recorder *r, uint32_t ext_seq);
/* A.1 re-synchronised: extended numbers restart, earlier gaps stay as they are. */
void series_record_resync(struct series_recorder *r);
/* A frame was given up incomplete (or cannot be rebuilt): a loss for the
 * thumbnails, whether or not a gap shows. */
void series_record_incomplete(struct series_recorder *r);
/* A complete frame: its JPEG bytes (copied as needed), its entry, and
 * whether the analysis decoded it and it failed. */
void series_record_frame(struct series_recorder *r, const uint8_t *jpeg, size_t len,
                         const struct series_frame *fr, bool corrupt);
/* End of the stream: the "last" thumbnail; buffers only needed while
 * recording are released. */
void series_record_finish(struct series_recorder *r);

/* Standard base64 (RFC 4648, padded) of n bytes: malloc'd, NUL-terminated;
 * NULL when out of memory. */
char *series_base64(const unsigned char *p, size_t n);

#endif
