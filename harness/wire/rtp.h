/* RTP (RFC 3550): the fixed header with CSRC list, header extension and
 * padding, parsed zero-copy and built into a caller buffer; the receiver
 * bookkeeping of appendix A (extended sequence numbers A.1, loss A.3,
 * interarrival jitter A.8) that the analyzer, the reference server and
 * RTCP receiver reports share; 16-bit serial number arithmetic.
 */
#ifndef RTSP_HARNESS_RTP_H
#define RTSP_HARNESS_RTP_H

#include "wire.h"

#define RTP_VERSION 2        /* the only version RFC 3550 defines */
#define RTP_HEADER_MIN 12    /* fixed header without CSRCs or extension */
#define RTP_CSRC_MAX 15      /* CC is a 4-bit field */
#define RTP_SEQ_MOD 65536u   /* sequence numbers wrap here */
#define RTP_MAX_DROPOUT 3000 /* A.1: a forward jump below this is a gap, not a restart */
#define RTP_MAX_MISORDER 100 /* A.1: a step back within this is a late packet */
#define RTP_MIN_SEQUENTIAL 2 /* A.1: packets in sequence before a source is valid */

/* One RTP header as it is on the wire; slices point into the parsed buffer. */
struct rtp_header {
    uint8_t version;              /* V: 2 bits, always 2 after rtp_parse */
    bool padding;                 /* P: the packet ends with padding_len padding bytes */
    bool extension;               /* X: a header extension follows the CSRC list */
    uint8_t csrc_count;           /* CC: number of entries used in csrc[] */
    bool marker;                  /* M: profile-defined; last packet of a video frame */
    uint8_t payload_type;         /* PT: 7 bits */
    uint16_t seq;                 /* sequence number */
    uint32_t timestamp;           /* RTP timestamp in media clock units */
    uint32_t ssrc;                /* synchronization source */
    uint32_t csrc[RTP_CSRC_MAX];  /* contributing sources, csrc_count of them */
    uint16_t ext_profile;         /* extension: "defined by profile" 16 bits */
    uint16_t ext_length;          /* extension data length in 32-bit words (wire value) */
    const uint8_t *ext_data;      /* extension data, ext_length * 4 bytes */
    uint8_t padding_len;          /* padding bytes including the count byte; 0 when !padding */
    const uint8_t *payload;       /* payload, after the header and before padding */
    size_t payload_len;           /* payload bytes */
};

/* Parse an RTP packet of exactly len bytes (one datagram). Returns the
 * header length (12 + 4*CC + extension) or WIRE_ERROR with the offset of
 * the offending field: version != 2, too short for the fixed header, the
 * CSRC list or the extension, padding count 0 or beyond the payload. */
int rtp_parse(const uint8_t *buf, size_t len, struct rtp_header *h, struct wire_error *err);
/* The same, whatever the version bits say (h->version holds them): for
 * streams known to be RTP by signalling, such as a lab flow bound by its
 * SETUP, whose receivers never look at the version. */
int rtp_parse_any_version(const uint8_t *buf, size_t len, struct rtp_header *h, struct wire_error *err);

/* Size rtp_build will produce for h and a payload of payload_len bytes. */
size_t rtp_packet_size(const struct rtp_header *h, size_t payload_len);

/* Build a packet from h (all fields, including version 0..3 so that a test
 * can send a bad version), the CSRC list, the extension (ext_length words
 * from ext_data, which may be NULL only when ext_length is 0) and, when
 * h->padding, padding_len bytes of padding (1..255; zeros then the count).
 * payload may be NULL when payload_len is 0; h->payload is ignored.
 * Returns the packet length or WIRE_ERROR (field out of range, padding
 * flag and padding_len disagree, or the packet does not fit in cap). */
int rtp_build(const struct rtp_header *h, const uint8_t *payload, size_t payload_len,
              uint8_t *out, size_t cap, struct wire_error *err);

/* a - b as a signed distance in 16-bit serial arithmetic (-32768..32767):
 * positive when a is after b. */
int32_t rtp_seq_diff(uint16_t a, uint16_t b);
/* True when a comes before b in 16-bit serial arithmetic. */
bool rtp_seq_lt(uint16_t a, uint16_t b);

/* Per-source reception state of RFC 3550 A.1, with the A.3 counters. */
struct rtp_source {
    uint16_t max_seq;         /* highest seq seen (A.1) */
    uint32_t cycles;          /* wrap count shifted left 16 (A.1) */
    uint32_t base_seq;        /* first seq counted after probation or re-sync */
    uint32_t bad_seq;         /* last 'bad' seq + 1; a packet with it re-syncs */
    uint32_t probation;       /* sequential packets still needed to validate */
    uint32_t min_sequential;  /* probation length this source was started with */
    uint32_t received;        /* packets counted (duplicates included, as in A.3) */
    uint32_t expected_prior;  /* expected at the last interval (fraction lost) */
    uint32_t received_prior;  /* received at the last interval (fraction lost) */
    uint32_t resyncs;         /* times a large jump re-synchronised the state */
};

/* Start a source on its first packet's seq. min_sequential is A.1's
 * MIN_SEQUENTIAL: RTP_MIN_SEQUENTIAL (2) as the RFC has it, where the first
 * packet only validates the source and counting starts at the second; 0 or
 * 1 counts from the first packet (what a loss report of a whole capture
 * wants). Then call rtp_source_update for every packet, the first included. */
void rtp_source_init(struct rtp_source *s, uint16_t seq, unsigned min_sequential);

/* A.1 update_seq: returns true when the packet was counted, false while
 * the source is on probation or after a large jump that has not yet been
 * confirmed by a second sequential packet (that second one re-syncs). */
bool rtp_source_update(struct rtp_source *s, uint16_t seq);

/* Extended highest sequence number received (cycles + max_seq). */
uint32_t rtp_source_ext_max(const struct rtp_source *s);
/* A.3 expected = extended max - base_seq + 1 (0 while on probation). */
int64_t rtp_source_expected(const struct rtp_source *s);
/* A.3 cumulative lost = expected - received; negative with duplicates,
 * never clamped (rtcp_cumulative_lost_clamp does the RR field's clamp). */
int64_t rtp_source_lost(const struct rtp_source *s);
/* A.3 fraction lost since the previous call (8-bit fixed point, 0..255,
 * 0 when nothing was lost or there were duplicates), and start a new
 * interval. */
uint8_t rtp_source_fraction_lost(struct rtp_source *s);

/* Interarrival jitter of RFC 3550 6.4.1 / A.8 for one source. Arrival times
 * are converted to timestamp units of clock_rate_hz with sub-tick precision,
 * so a 1 Hz lab stream still gets a meaningful value. */
struct rtp_jitter {
    bool started;             /* a previous packet exists */
    uint64_t prev_arrival_ns; /* arrival time of the previous packet */
    uint32_t prev_rtp_ts;     /* RTP timestamp of the previous packet */
    double last_d;            /* D(i-1,i) of the last update, timestamp units */
    double jitter;            /* running J in timestamp units */
};

void rtp_jitter_init(struct rtp_jitter *j);
/* Feed one packet in arrival order: arrival_ns on any monotonic clock (a
 * pcap's timestamps), rtp_ts from its header. D uses the signed 32-bit
 * difference of RTP timestamps so wrap-around is handled. Returns false
 * and changes nothing when clock_rate_hz is 0. */
bool rtp_jitter_update(struct rtp_jitter *j, uint64_t arrival_ns, uint32_t rtp_ts,
                       uint32_t clock_rate_hz);
/* Jitter as the RR field carries it: timestamp units, truncated. */
uint32_t rtp_jitter_rr(const struct rtp_jitter *j);
/* Jitter in nanoseconds for clock_rate_hz (0 when the rate is 0). */
double rtp_jitter_ns(const struct rtp_jitter *j, uint32_t clock_rate_hz);

#endif
