/* RTP stream analysis: one object per RTP flow and SSRC, fed the flow's
 * packets in capture order, that measures what a "streams" entry of the
 * analyzer's JSON report holds (docs/report-schema.md: loss, duplicates,
 * reordering, bitrate, inter-arrival delta, jitter, frame completeness,
 * decodability, frame intervals, fixture frame numbering) and files the
 * RTP and frame findings of the check catalog (checks.h) as it goes.
 *
 * Two dialects. RFC 2326 streams carry RTP/JPEG (RFC 2435): frames are
 * rebuilt with the wire library's depacketizer, frame boundaries come from
 * the marker bit and the timestamp, frame timing from the arrival of the
 * packet that completes a frame. Lab streams (PROTOCOL.md section 1) carry
 * one whole JPEG per packet: every packet is a frame, timing comes from
 * arrival times, and their 1 Hz wall-clock timestamps are only noted.
 *
 * Numbers that tshark 4.0 (`tshark -q -z rtp,streams`) also prints follow
 * its definitions where they are comparable; each field says where and how
 * it differs. Memory per stream is bounded whatever the capture length
 * (see rtp_stream_memory); nothing grows per packet. */
#ifndef RTSP_HARNESS_RTPSTREAM_H
#define RTSP_HARNESS_RTPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "checks.h"
#include "rtcp.h"
#include "series.h"

#define RTPS_SERIES_MAX 3600        /* per-second bitrate entries kept: the first hour; later seconds are not recorded */
#define RTPS_EXACT_INTERVALS 4096   /* frame intervals kept exactly; beyond, a histogram takes over */
#define RTPS_HIST_FINE_MS 250.0     /* histogram: 0.01 ms bins below this ... */
#define RTPS_HIST_COARSE_MS 10000.0 /* ... 1 ms bins up to this, one overflow bin above (its values report as the exact max) */
#define RTPS_QUIET_GRACE_NS 100000000LL /* packets this soon after a PAUSE/TEARDOWN reply belong to a frame already under way */
#define RTPS_SAMPLE_EVERY 16        /* DECODE_SAMPLE decodes complete frames whose index is a multiple of this */

/* Which complete frames are handed to libjpeg-turbo. */
enum decode_mode {
    DECODE_NONE,   /* none: frames.decoded stays 0 */
    DECODE_SAMPLE, /* complete frames 0, 16, 32 ... by completed-frame index (the first included) */
    DECODE_ALL,    /* every complete frame */
};

/* The frames a lab stream should carry (the movie it was served from):
 * frame k (1-based, the fixture number in the frame, else the RTP
 * sequence number, which the lab sets to the frame number) is
 * frames[k - 1] of lens[k - 1] bytes. */
struct rtp_reference {
    const uint8_t *const *frames;
    const size_t *lens;
    size_t n;
};

/* How to read a stream; what the caller learned from RTSP and SDP. */
struct rtp_stream_opts {
    int expected_pt;          /* payload type the SDP announced; -1 unknown (then a change of PT is flagged) */
    uint32_t clock_rate;      /* RTP clock in Hz; 0: from the PT (90000 for 26, dynamic PTs and unknown video) */
    bool lab;                 /* lab dialect: whole JPEG per packet, timing from arrival, 1 Hz timestamps only noted */
    double nominal_fps;       /* expected frame rate; 0 unknown: the nominal interval is then the median frame interval */
    enum decode_mode decode;  /* which complete frames to decode */
    const struct rtp_reference *reference; /* lab: compare each whole frame with the movie's; NULL none */
    bool series;              /* record frames, gaps and thumbnails (series.h) for rtp_stream_series */
};

/* Frame interval distribution, milliseconds. */
struct rtp_stream_intervals {
    uint64_t count; /* intervals measured (consecutive complete frames, not across a PLAY) */
    double p50;     /* nearest-rank percentiles: exact up to RTPS_EXACT_INTERVALS intervals, */
    double p95;     /* then to the histogram bin's midpoint (0.01 ms below 250 ms, 1 ms to 10 s) */
    double p99;     /* clamped to the exact min and max */
    double max;     /* exact */
};

/* Fixture frame numbers ("rtsp-harness frame N" in the JPEG). */
struct rtp_stream_numbered {
    bool present;          /* some complete frame carried a number; false: the "numbered" field is null */
    uint32_t first;        /* number of the first numbered frame */
    uint32_t last;         /* highest number of the current run (the last frame when in order) */
    uint64_t skipped;      /* numbers jumped over and never seen later (within a 64-frame window) */
    uint64_t repeated;     /* a number seen again (within the window) */
    uint64_t out_of_order; /* a number below the highest: late, or the numbering went back */
};

/* Frames rebuilt from the stream. */
struct rtp_stream_frames {
    uint64_t complete;          /* whole frames (RFC 2435 reassembled, or a lab packet holding a whole JPEG) */
    uint64_t incomplete;        /* frames with missing fragments, or lab packets that are not a whole JPEG */
    uint64_t decoded;           /* complete frames handed to libjpeg-turbo */
    uint64_t undecodable;       /* of those, failed (errors and warnings); plus complete RFC 2435 frames whose tables never came */
    double fps;                 /* 1000 / mean frame interval; 0 with no interval */
    struct rtp_stream_intervals interval_ms; /* frame intervals (valid after rtp_stream_finish) */
    bool have_nominal;          /* nominal_interval_ms is known (else the report prints null) */
    bool nominal_estimated;     /* it is the median interval, not the caller's nominal_fps */
    double nominal_interval_ms; /* 1000 / nominal_fps, or the median frame interval */
    uint64_t stalls;            /* intervals above 3x nominal */
    struct rtp_stream_numbered numbered; /* fixture numbering */
    uint64_t identical;         /* lab with a reference: whole frames byte-identical to the movie's frame */
    uint64_t different;         /* ... and whole frames that are not (or whose number the movie lacks) */
};

/* Everything a "streams" entry takes from RTP, plus a few counters the
 * report may add. Counters are current at any time; percentiles, fps,
 * nominal interval and stalls only after rtp_stream_finish. */
struct rtp_stream_metrics {
    bool started;               /* a well-formed RTP packet arrived; else the rest is zero */
    uint32_t ssrc;              /* SSRC of the first well-formed packet */
    uint8_t payload_type;       /* PT of the first well-formed packet */
    uint32_t clock_rate;        /* Hz used for jitter and the clock check */
    uint64_t packets;           /* well-formed RTP packets (tshark's Pkts) */
    int64_t expected;           /* RFC 3550 A.3 expected, summed over A.1 re-syncs */
    int64_t lost;               /* expected - received as A.3 counts them; negative with duplicates, never clamped */
    double loss_rate;           /* lost / expected (0 when expected <= 0); negative when lost is */
    uint64_t duplicates;        /* a sequence number already received (A.1 window) */
    uint64_t reordered;         /* below the highest seen and not a duplicate */
    uint64_t uncounted;         /* packets A.1 left out (a jump not yet confirmed by the next packet) */
    uint32_t resyncs;           /* A.1 re-synchronisations after a confirmed jump */
    uint64_t bytes;             /* RTP payload bytes (headers and padding excluded) */
    double bitrate_bps;         /* bytes * 8 / (last_ns - first_ns); 0 for a single instant */
    const double *bitrate_series_bps; /* bits per whole second from the first packet; the last entry is a partial second */
    size_t bitrate_series_len;  /* entries in bitrate_series_bps, at most RTPS_SERIES_MAX */
    bool bitrate_series_truncated; /* packets came after RTPS_SERIES_MAX seconds and are not in the series */
    int64_t first_ns;           /* arrival of the first packet (capture clock) */
    int64_t last_ns;            /* arrival of the last packet */
    double min_delta_ms;        /* arrival difference of consecutive packets, capture order, every packet */
    double mean_delta_ms;       /* (last - first) / (packets - 1) */
    double max_delta_ms;        /* largest of those; tshark's Max Delta skips marker packets and measures from the previous in-time packet: equal unless the biggest gap ends on one of those */
    double mean_jitter_ms;      /* tshark's Mean Jitter, computed its way (see rtpstream.c) */
    double max_jitter_ms;       /* tshark's Max Jitter: maximum of the running RFC 3550 jitter over its "regular" packets */
    double mean_jitter_ts;      /* the same in timestamp units */
    double max_jitter_ts;       /* the same in timestamp units */
    struct rtp_stream_frames frames; /* frame analysis (empty for payloads other than JPEG) */
    uint64_t malformed;         /* packets rtp_parse rejected (wrong version included); not in any other count */
    uint64_t after_quiet;       /* packets that arrived after a PAUSE or TEARDOWN reply, grace included */
};

struct rtp_stream;

/* A stream with no packets yet; where labels its findings (copied). NULL
 * when out of memory. */
struct rtp_stream *rtp_stream_new(const struct rtp_stream_opts *o, const char *where);

/* One whole RTP packet (UDP payload, or the body of an interleaved frame)
 * as captured, with its capture time and 1-based pcap frame number. */
void rtp_stream_packet(struct rtp_stream *s, const uint8_t *pkt, size_t len, int64_t arrival_ns,
                       uint64_t frame, struct findings *f);

/* An RTP packet the capture cut (snap length, or a capture over its
 * budget): len bytes captured of wire_len. Its header counts (sequence,
 * timestamp, SSRC, payload type, timing) and its bytes are wire_len's; its
 * payload is not judged, and a header cut short is skipped, never called
 * malformed: the capture cut it, not the sender. wire_len <= len is a
 * whole packet, judged as rtp_stream_packet judges it. */
void rtp_stream_packet_cut(struct rtp_stream *s, const uint8_t *pkt, size_t len, size_t wire_len,
                           int64_t arrival_ns, uint64_t frame, struct findings *f);

/* An RTCP SR from this stream's SSRC: checks rtcp.sr.counts against the
 * RTP seen so far (rule in rtpstream.c). */
void rtp_stream_sender_report(struct rtp_stream *s, const struct rtcp_sender_info *si, uint64_t frame,
                              struct findings *f);

/* The PAUSE (why = CHK_RTP_AFTER_PAUSE) or TEARDOWN (CHK_RTP_AFTER_TEARDOWN)
 * reply, pcap frame `frame`, was at since_ns: RTP after it is counted until
 * rtp_stream_resume or rtp_stream_finish closes the window (a window still
 * open is closed first). A window yields at most one finding, when it
 * closes; it goes to the findings list the offending packets were given
 * with (rtp_stream_packet's f), which must still be valid then. */
void rtp_stream_quiet(struct rtp_stream *s, int64_t since_ns, enum check_id why, uint64_t frame);

/* A PLAY request (pcap frame `frame`) ends the quiet window, and the next
 * frame interval is not measured across the pause. */
void rtp_stream_resume(struct rtp_stream *s, uint64_t frame);

/* Where seq stands against what the stream has received: behind the
 * highest (a late, reordered packet rather than a new one) or before the
 * first it counted. Both false before the first packet. */
bool rtp_stream_seq_behind(const struct rtp_stream *s, uint16_t seq);
bool rtp_stream_seq_before_first(const struct rtp_stream *s, uint16_t seq);

/* End of capture: drop the frame in progress (frame.incomplete), close a
 * quiet window, compute percentiles, fps, stalls, the clock and lab marker
 * checks. Call once; later packets are ignored. */
void rtp_stream_finish(struct rtp_stream *s, struct findings *f);

/* The measurements; valid until rtp_stream_free. */
const struct rtp_stream_metrics *rtp_stream_metrics(const struct rtp_stream *s);

/* What the stream recorded with opts.series (thumbnails and the "last"
 * one complete after rtp_stream_finish); NULL without it, or when memory
 * for the recorder ran out. Valid until rtp_stream_free. */
const struct rtp_series *rtp_stream_series(const struct rtp_stream *s);

/* Bytes the stream holds on the heap now: about 450 KB once the interval
 * histogram is in use, plus whatever the largest RFC 2435 frame needed
 * beyond 256 KB (at most 16 MB, the 24-bit fragment offset) and a decode
 * buffer of width/8 x height/8 bytes; libjpeg-turbo's own decoder state is
 * not counted. It never grows with the number of packets. With
 * opts.series add the recording: at most about 1 MB of frames and gaps,
 * one copy of the largest frame, and the thumbnails. */
size_t rtp_stream_memory(const struct rtp_stream *s);

void rtp_stream_free(struct rtp_stream *s);

#endif
