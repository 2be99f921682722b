/* RTP payload format for JPEG (RFC 2435): a packetizer that cuts one
 * baseline JPEG into RTP payloads (JPEG header, restart marker header for
 * types 64-65, quantization table header on the first fragment when
 * Q >= 128, then a slice of the entropy-coded scan), and a depacketizer
 * that puts fragments back together and rebuilds a complete JFIF frame from
 * type, Q, width and height. A frame with a missing fragment is reported as
 * incomplete with the byte ranges that never came; it is never returned as
 * complete. The caller adds and strips the RTP header itself.
 *
 * Only what RFC 2435 can carry is packetized: 3-component baseline frames
 * coded with the Annex K.3 Huffman tables, luma sampled 2x1 (type 0) or
 * 2x2 (type 1), chroma 1x1, width and height multiples of 8 up to 2040.
 */
#ifndef RTSP_HARNESS_RTPJPEG_H
#define RTSP_HARNESS_RTPJPEG_H

#include "wire.h"

#define RTPJPEG_HEADER_LEN 8          /* main JPEG header, every packet */
#define RTPJPEG_RESTART_HEADER_LEN 4  /* restart marker header, types 64-127 */
#define RTPJPEG_QTABLE_HEADER_LEN 4   /* quantization table header, Q >= 128, offset 0 */
#define RTPJPEG_MAX_DIMENSION 2040    /* width and height travel as 8-bit multiples of 8 */
#define RTPJPEG_MAX_SCAN 0xFFFFFFu    /* largest scan: fragment offsets are 24 bits */
#define RTPJPEG_JFIF_HEADER_MAX 768   /* room the depacketizer keeps for rebuilt JFIF headers */
#define RTPJPEG_MAX_RANGES 32         /* disjoint received byte ranges tracked per frame */
#define RTPJPEG_QCACHE 4              /* Q values 128-254 whose tables are remembered */
#define RTPJPEG_LATE_WINDOW 3000      /* a payload up to this many sequence numbers old is late; older means the stream jumped */

/* RTP payload bytes per packet for RTP over UDP over IPv4 at a given MTU
 * (the IP packet size limit): mtu - 20 (IPv4 header, no options) - 8 (UDP)
 * - 12 (RTP fixed header, no CSRC, no extension). 0 when the MTU leaves no
 * room. MTU 1400 gives 1360. */
size_t rtpjpeg_max_payload_for_mtu(size_t mtu);

/* RFC 2435 Appendix A MakeTables: the Annex K tables scaled for Q (clamped
 * to 1..99), in zigzag (DQT) order, each entry 1..255. */
void rtpjpeg_make_tables(unsigned q, uint8_t luma[64], uint8_t chroma[64]);

/* Write the JFIF headers RFC 2435 Appendix B rebuilds (SOI, APP0 JFIF, DQT,
 * SOF0, DHT with the Annex K.3 tables, DRI when restart_interval > 0, SOS)
 * into out, which must hold RTPJPEG_JFIF_HEADER_MAX bytes. type is 0 or 1
 * (the restart bit 64 is taken from restart_interval, not from type);
 * qtables holds the luma then the chroma table as DQT carries them, each 64
 * bytes, or 128 (16-bit big-endian entries) when its bit in precision
 * (bit 0 luma, bit 1 chroma) is set. Returns the bytes written. */
size_t rtpjpeg_write_headers(uint8_t *out, uint8_t type, unsigned width, unsigned height,
                             uint16_t restart_interval, uint8_t precision, const uint8_t *qtables);

/* How to packetize. */
struct rtpjpeg_options {
    size_t max_payload; /* RTP payload bytes per packet, RTP header excluded (see rtpjpeg_max_payload_for_mtu) */
    uint8_t q;          /* 0: 255 (tables in-band every frame); 1-99: the frame must use exactly the RFC 2435 tables for that Q, none sent; 128-255: tables in-band */
};

/* Cuts one JPEG into payloads; points into the caller's JPEG, which must
 * outlive it. */
struct rtpjpeg_packetizer {
    const uint8_t *scan;       /* entropy-coded data to send */
    size_t scan_len;           /* its length, 1..RTPJPEG_MAX_SCAN */
    size_t offset;             /* fragment offset of the next payload */
    size_t max_payload;        /* payload limit from the options */
    uint8_t type;              /* 0 or 1, plus 64 when the frame has restart markers */
    uint8_t q;                 /* Q field sent */
    uint8_t width8;            /* width / 8 */
    uint8_t height8;           /* height / 8 */
    uint16_t restart_interval; /* from DRI; 0 when type < 64 */
    uint8_t qt_precision;      /* quantization table header precision: bit 0 luma, bit 1 chroma 16-bit */
    uint16_t qt_len;           /* bytes of table data in qt_data (0 when Q < 128) */
    uint8_t qt_data[256];      /* luma then chroma table, DQT byte order */
};

/* Parse jpeg and check RFC 2435 can carry it (opts is required). Returns 0,
 * or WIRE_ERROR with err: the JPEG parse error, or why the frame cannot be
 * sent (offset 0 or that of the first SOS for frame-level reasons). */
int rtpjpeg_packetizer_init(struct rtpjpeg_packetizer *p, const uint8_t *jpeg, size_t len,
                            const struct rtpjpeg_options *opts, struct wire_error *err);

/* Write the next payload into out. Returns 1 with *out_len set and
 * *is_last true on the frame's last payload (set the RTP marker bit), 0 when
 * every payload has been written, WIRE_ERROR when cap is too small for this
 * payload (nothing consumed; at most max_payload is ever needed). */
int rtpjpeg_packetizer_next(struct rtpjpeg_packetizer *p, uint8_t *out, size_t cap,
                            size_t *out_len, bool *is_last, struct wire_error *err);

/* Number of payloads the whole frame takes. */
size_t rtpjpeg_packetizer_count(const struct rtpjpeg_packetizer *p);

/* What rtpjpeg_depacketize_push says about a payload. WIRE_ERROR means the
 * payload was rejected (err says why) and the frame in progress goes on
 * without it, unless the error is about the whole frame (its tables never
 * came): then the frame is dropped. */
enum rtpjpeg_push_result {
    RTPJPEG_ACCEPTED = 0,   /* fragment stored; the frame is not finished */
    RTPJPEG_COMPLETE = 1,   /* frame finished: d->frame holds the rebuilt JFIF until the next push */
    RTPJPEG_INCOMPLETE = 2, /* the frame in progress was dropped (d->incomplete says what was
                               missing); THIS payload was not consumed: push it again */
    RTPJPEG_LATE = 3,       /* payload of a frame already finished or dropped; ignored */
};

/* A byte range of a frame's scan data. */
struct rtpjpeg_range {
    uint32_t offset; /* fragment offset of its first byte */
    uint32_t len;    /* bytes; 0 in a missing list means "up to the frame's unknown end" */
};

/* A dropped frame: what came and what did not. */
struct rtpjpeg_incomplete {
    uint32_t timestamp;   /* RTP timestamp of the dropped frame */
    uint16_t first_seq;   /* lowest sequence number received for it */
    uint16_t last_seq;    /* highest sequence number received for it */
    unsigned packets;     /* payloads accepted for it */
    bool end_known;       /* the marker packet came, so scan_len is known */
    uint32_t scan_len;    /* total scan bytes when end_known */
    uint32_t received;    /* scan bytes received */
    size_t nmissing;      /* entries in missing */
    struct rtpjpeg_range missing[RTPJPEG_MAX_RANGES + 1]; /* gaps in offset order */
};

/* A completed frame's parameters. */
struct rtpjpeg_frame_info {
    uint32_t timestamp;        /* RTP timestamp */
    uint8_t type;              /* RFC 2435 type as received (0, 1, 64, 65) */
    uint8_t q;                 /* Q as received */
    uint16_t width;            /* pixels */
    uint16_t height;           /* pixels */
    uint16_t restart_interval; /* from the restart marker header; 0 for types 0 and 1 */
    uint32_t scan_len;         /* scan bytes reassembled */
    unsigned packets;          /* payloads accepted for the frame, duplicates included */
};

/* Tables remembered for a Q in 128-254, for frames that send length 0. */
struct rtpjpeg_qcache_entry {
    uint8_t q;         /* 0 when the slot is empty */
    uint8_t precision; /* precision bits as received */
    uint16_t len;      /* bytes in data */
    uint8_t data[256]; /* luma then chroma table */
};

/* Reassembles frames into a caller-provided buffer. Scan data is written at
 * buf + RTPJPEG_JFIF_HEADER_MAX + fragment offset and the headers are
 * written just before it, so a frame of S scan bytes needs
 * cap >= RTPJPEG_JFIF_HEADER_MAX + S + 2. */
struct rtpjpeg_depacketizer {
    uint8_t *buf;              /* caller's frame buffer */
    size_t cap;                /* its size */
    /* frame in progress */
    bool active;               /* a frame has accepted fragments */
    uint32_t timestamp;        /* its RTP timestamp */
    uint16_t seq_lo;           /* lowest sequence number accepted for it */
    uint16_t seq_hi;           /* highest sequence number accepted for it */
    bool marker_seen;          /* its marker packet arrived */
    uint16_t marker_seq;       /* sequence number of the marker packet */
    uint32_t end;              /* scan length, once marker_seen */
    uint8_t type;              /* type of its first accepted payload */
    uint8_t q;                 /* Q of its first accepted payload */
    uint8_t width8;            /* width / 8 */
    uint8_t height8;           /* height / 8 */
    uint16_t restart_interval; /* from the restart marker header */
    unsigned packets;          /* payloads accepted */
    bool have_tables;          /* qt_* hold this frame's in-band or cached tables */
    bool tables_missing;       /* offset 0 came with length 0 and nothing cached for Q */
    uint8_t qt_precision;      /* precision bits of the tables */
    uint16_t qt_len;           /* bytes in qt_data */
    uint8_t qt_data[256];      /* luma then chroma table */
    size_t nranges;            /* entries in ranges */
    struct rtpjpeg_range ranges[RTPJPEG_MAX_RANGES]; /* received, sorted, disjoint, not touching */
    /* history */
    bool have_done;            /* a frame was finished (completed or dropped) */
    uint16_t done_seq;         /* highest sequence number of the last finished frame */
    struct rtpjpeg_qcache_entry qcache[RTPJPEG_QCACHE]; /* tables by Q */
    unsigned qcache_next;      /* slot replaced next when the cache is full */
    /* results */
    const uint8_t *frame;      /* rebuilt JFIF after RTPJPEG_COMPLETE, else NULL */
    size_t frame_len;          /* its length */
    struct rtpjpeg_frame_info frame_info;  /* after RTPJPEG_COMPLETE */
    struct rtpjpeg_incomplete incomplete;  /* after RTPJPEG_INCOMPLETE */
};

/* Start with an empty state. WIRE_ERROR when cap cannot hold even a one-byte
 * scan (below RTPJPEG_JFIF_HEADER_MAX + 3). */
int rtpjpeg_depacketizer_init(struct rtpjpeg_depacketizer *d, uint8_t *buf, size_t cap,
                              struct wire_error *err);

/* Forget the frame in progress, the history and the table cache (a new
 * SSRC, a new stream). */
void rtpjpeg_depacketizer_reset(struct rtpjpeg_depacketizer *d);

/* Feed one RTP payload with its RTP timestamp, marker bit and sequence
 * number. Returns an enum rtpjpeg_push_result or WIRE_ERROR. Frames are told
 * apart by timestamp and sequence number: a payload with a new timestamp and
 * a later sequence number, or one that follows the marker packet, starts a
 * new frame and drops an unfinished one (RTPJPEG_INCOMPLETE); payloads with
 * earlier sequence numbers than the frame in progress (by at most
 * RTPJPEG_LATE_WINDOW) are RTPJPEG_LATE; a bigger jump back starts a frame.
 * Fragments of one frame may come in any order and more than once. */
int rtpjpeg_depacketize_push(struct rtpjpeg_depacketizer *d, const uint8_t *payload, size_t len,
                             uint32_t rtp_timestamp, bool marker, uint16_t seq,
                             struct wire_error *err);

/* End of stream or receive timeout: drop an unfinished frame. Returns
 * RTPJPEG_INCOMPLETE (d->incomplete filled) or 0 when no frame was pending. */
int rtpjpeg_depacketize_flush(struct rtpjpeg_depacketizer *d);

#endif
