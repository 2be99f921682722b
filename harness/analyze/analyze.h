/* The analyzer: one streaming pass over a capture. IP fragments are put
 * back into whole datagrams (ipreasm.h); TCP is reassembled per
 * direction (tcpreasm.h); RTSP messages and interleaved frames are taken
 * out of the byte streams and checked against RFC 2326 (or the lab
 * dialect); SETUP exchanges bind UDP flows and interleaved channels to
 * sessions; RTP and RTCP go to per-stream analysis (rtpstream.h). The
 * result is the data model below, which report.c writes as text or JSON
 * (docs/report-schema.md). */
#ifndef RTSP_HARNESS_ANALYZE_H
#define RTSP_HARNESS_ANALYZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "checks.h"
#include "pcapin.h"
#include "rtpstream.h"

#define ANALYZE_MAX_RTP_PORTS 16       /* --rtp-port values */
#define ANALYZE_MAX_EXCHANGES 4096     /* requests kept per connection for the report (all are checked) */
#define ANALYZE_MAX_CONNECTIONS 4096   /* RTSP connections tracked */
#define ANALYZE_MAX_STREAMS 4096       /* RTP streams tracked */
#define ANALYZE_MAX_MESSAGE (1u << 20) /* largest RTSP message buffered */
#define ANALYZE_WINDOW_LATE_NS 1000000000LL /* a window takes reordered packets this late after its end */

/* Options of one analysis. */
struct analyze_opts {
    enum check_profile profile;                  /* severities */
    bool profile_given;                          /* else lab when the capture speaks it */
    uint16_t rtp_ports[ANALYZE_MAX_RTP_PORTS];   /* UDP ports declared RTP */
    size_t n_rtp_ports;                          /* entries used */
    enum decode_mode decode;                     /* JPEG decoding */
    const struct rtp_reference *reference;       /* lab streams: the movie to compare frames with; NULL none */
    bool series;                                 /* every stream records frames, gaps and thumbnails:
                                                    rtp_stream_series(streams[i].rtp) */
    int64_t window_start_ns;                     /* with window_end_ns: measure only RTP captured in */
    int64_t window_end_ns;                       /* [start, end] (capture clock), and packets of the window
                                                    overtaken and arriving up to ANALYZE_WINDOW_LATE_NS
                                                    after it; 0: the whole capture */
};

/* One request and its response. */
struct analyze_exchange {
    uint64_t frame;          /* request's first frame */
    char method[24];         /* as sent */
    char uri[160];           /* as sent, cut */
    bool has_cseq;           /* request carried a CSeq */
    uint32_t cseq;           /* its value */
    char session[72];        /* Session id sent, "" when none */
    int status;              /* response status, 0 when none */
    uint64_t response_frame; /* response's first frame, 0 when none */
};

/* One RTSP connection. */
struct analyze_connection {
    char client[64];                   /* "ip:port" */
    char server[64];                   /* "ip:port" */
    bool lab;                          /* speaks the lab dialect */
    struct analyze_exchange *exchanges;/* kept requests */
    size_t n_exchanges;                /* entries used */
    size_t cap_exchanges;              /* allocated */
    uint64_t requests;                 /* every request seen */
};

/* One RTP stream in the report. */
struct analyze_stream {
    bool interleaved;        /* RTP in the RTSP connection */
    char src[64];            /* "ip:port" */
    char dst[64];            /* "ip:port" */
    int channel;             /* interleaved channel, -1 for UDP */
    char session[72];        /* bound session id, "" when unknown */
    const char *bound_by;    /* "setup", "rtp-port" or "heuristic" */
    struct rtp_stream *rtp;  /* metrics; with opts.series also rtp_stream_series */
};

/* The whole result. */
struct analysis {
    char path[512];                       /* the capture */
    const char *format;                   /* "pcap" or "pcapng" */
    char link_type[32];                   /* libpcap's name */
    uint64_t packets;                     /* frames read */
    uint64_t undecoded;                   /* not IPv4/IPv6 TCP/UDP */
    uint64_t truncated;                   /* cut by the snap length */
    int64_t first_ns;                     /* first frame time */
    int64_t last_ns;                      /* last frame time */
    enum check_profile profile;           /* as used */
    struct findings findings;             /* every finding */
    struct analyze_connection *connections; /* in order of first packet */
    size_t n_connections;                 /* entries used */
    struct analyze_stream *streams;       /* in order of first packet */
    size_t n_streams;                     /* entries used */
    uint64_t gso_split;                   /* UDP datagrams split into RTP packets (GSO sends captured before segmentation) */
    uint64_t ip_fragments;                /* frames holding an IPv4/IPv6 fragment */
    uint64_t ip_reassembled;              /* datagrams put back together from them */
    uint64_t ip_incomplete;               /* datagrams given up with fragments missing (lost to the receiver) */
    uint64_t ip_evicted;                  /* of those: pushed out by the reassembly memory caps */
    uint64_t ip_discarded;                /* datagrams dropped for overlapping fragments or a length above 65535 */
};

/* Analyze a capture. Returns 0 with *out set (free with analysis_free), or
 * -1 with a message naming the file (and the frame) when the input is
 * unusable. A capture cut short after some packets is analyzed as far as it
 * goes and the error becomes a finding. */
int analyze_file(const char *path, const struct analyze_opts *opts, struct analysis **out,
                 char *err, size_t err_cap);
/* Same from an open, seekable stream (fmemopen for the fuzzer); name is
 * used in messages. The stream is closed. */
int analyze_stream(FILE *fp, const char *name, const struct analyze_opts *opts,
                   struct analysis **out, char *err, size_t err_cap);
void analysis_free(struct analysis *a);

/* true when a finding of severity fail exists under a->profile. */
bool analysis_failed(const struct analysis *a);

#endif
