/* RTCP (RFC 3550 section 6): compound packets walked one packet at a time
 * with the appendix A.2 validity checks, decoded SR, RR, SDES, BYE and APP
 * (other types are returned with their body slice), builders that append
 * packets to a compound in a caller buffer, and the NTP timestamp helpers
 * that sender reports and round-trip times (6.4.1) need.
 */
#ifndef RTSP_HARNESS_RTCP_H
#define RTSP_HARNESS_RTCP_H

#include <time.h>

#include "wire.h"

#define RTCP_SR 200   /* sender report */
#define RTCP_RR 201   /* receiver report */
#define RTCP_SDES 202 /* source description */
#define RTCP_BYE 203  /* goodbye */
#define RTCP_APP 204  /* application-defined */

#define RTCP_HEADER_LEN 4     /* V/P/count, PT, length */
#define RTCP_COUNT_MAX 31     /* RC/SC/subtype is a 5-bit field */
#define RTCP_REPORT_BLOCK_LEN 24
#define RTCP_SENDER_INFO_LEN 20

/* SDES item types (6.5). */
enum rtcp_sdes_type {
    RTCP_SDES_END = 0,
    RTCP_SDES_CNAME = 1,
    RTCP_SDES_NAME = 2,
    RTCP_SDES_EMAIL = 3,
    RTCP_SDES_PHONE = 4,
    RTCP_SDES_LOC = 5,
    RTCP_SDES_TOOL = 6,
    RTCP_SDES_NOTE = 7,
    RTCP_SDES_PRIV = 8,
};

/* Flags for rtcp_iter_init. */
#define RTCP_STRICT 0u
/* Reduced-size RTCP (RFC 5506): accept a compound whose first packet is not
 * SR or RR (a single non-report packet, say) and a padded first packet
 * (A.2 masks P on the first packet; SRTCP-style padding of a lone packet
 * sets it). Every other check stays. */
#define RTCP_REDUCED_SIZE 1u

/* One reception report block (6.4.1). */
struct rtcp_report_block {
    uint32_t ssrc;            /* source this block reports on */
    uint8_t fraction_lost;    /* lost in the interval, 8-bit fixed point */
    int32_t cumulative_lost;  /* signed 24-bit on the wire: -8388608..8388607 */
    uint32_t ext_highest_seq; /* extended highest sequence number received */
    uint32_t jitter;          /* interarrival jitter, timestamp units */
    uint32_t lsr;             /* compact NTP time of the last SR from ssrc, 0 if none */
    uint32_t dlsr;            /* delay since that SR, 1/65536 s */
};

/* Sender information of an SR (6.4.1). */
struct rtcp_sender_info {
    uint64_t ntp_ts;       /* NTP timestamp: seconds since 1900 << 32 | fraction */
    uint32_t rtp_ts;       /* the same instant in the RTP media clock */
    uint32_t packet_count; /* RTP packets sent since the start */
    uint32_t octet_count;  /* RTP payload octets sent since the start */
};

/* One SDES item; value points into the packet (or the caller's data when
 * building). */
struct rtcp_sdes_item {
    uint8_t type;           /* enum rtcp_sdes_type, 1..255 */
    struct wire_str prefix; /* PRIV only: the prefix string; empty otherwise */
    struct wire_str value;  /* item text (for PRIV, the part after the prefix) */
};

/* One SDES chunk as parsed: its items are walked with rtcp_sdes_item_next. */
struct rtcp_sdes_chunk {
    uint32_t ssrc;          /* SSRC or CSRC the items describe */
    const uint8_t *items;   /* item bytes up to (not including) the END item */
    size_t items_len;       /* bytes at items */
    struct wire_str cname;  /* the CNAME item's text, ptr NULL when absent */
};

/* One SDES chunk to build. */
struct rtcp_sdes_chunk_spec {
    uint32_t ssrc;                       /* SSRC or CSRC */
    const struct rtcp_sdes_item *items;  /* item_count items (END is added) */
    unsigned item_count;                 /* number of items */
};

/* One packet of a compound, decoded; pointers refer to the parsed buffer. */
struct rtcp_packet {
    uint8_t version;        /* always 2 after rtcp_iter_next */
    bool padding;           /* P: only allowed on the last packet */
    uint8_t count;          /* RC, SC or APP subtype (5 bits) */
    uint8_t packet_type;    /* PT: RTCP_SR ... or any other value */
    uint16_t length_words;  /* length field: 32-bit words minus one */
    size_t offset;          /* where the packet starts in the compound */
    const uint8_t *ptr;     /* the whole packet, header and padding included */
    size_t len;             /* (length_words + 1) * 4 */
    uint8_t padding_len;    /* padding bytes including the count byte */
    const uint8_t *body;    /* after the 4-byte header, before the padding */
    size_t body_len;        /* bytes at body */

    uint32_t ssrc;                   /* SR/RR: sender; APP: source; BYE: first ssrc */
    struct rtcp_sender_info sender;  /* SR only */
    struct rtcp_report_block blocks[RTCP_COUNT_MAX]; /* SR/RR: count of them */
    const uint8_t *ext;              /* SR/RR: profile-specific extension after the blocks */
    size_t ext_len;                  /* bytes at ext */

    struct rtcp_sdes_chunk chunks[RTCP_COUNT_MAX]; /* SDES: count of them */

    uint32_t bye_ssrc[RTCP_COUNT_MAX]; /* BYE: count sources leaving */
    struct wire_str bye_reason;        /* BYE: reason text, ptr NULL when absent */

    char app_name[4];        /* APP: four ASCII characters, not NUL-terminated */
    const uint8_t *app_data; /* APP: application data */
    size_t app_data_len;     /* APP: bytes at app_data, a multiple of 4 */
};

/* Walks a compound packet (one datagram). */
struct rtcp_iter {
    const uint8_t *buf; /* the compound */
    size_t len;         /* its length */
    size_t off;         /* start of the next packet */
    unsigned index;     /* packets returned so far */
    unsigned flags;     /* RTCP_STRICT or RTCP_REDUCED_SIZE */
    bool failed;        /* a previous call failed; the rest is not trusted */
};

void rtcp_iter_init(struct rtcp_iter *it, const uint8_t *buf, size_t len, unsigned flags);

/* Decode the next packet into *pkt. Returns its length in bytes (> 0), 0
 * after the last packet, or WIRE_ERROR: empty compound, version != 2,
 * length beyond the buffer, padding on a packet other than the last or a
 * bad padding count, a first packet that is not SR/RR or is padded
 * (strict only), a body too short for its count of blocks or sources, an
 * SDES item or chunk running past its packet, non-zero chunk padding or
 * bytes after the last chunk, a BYE reason running past its packet. Once
 * it has failed, the iterator keeps failing. */
int rtcp_iter_next(struct rtcp_iter *it, struct rtcp_packet *pkt, struct wire_error *err);

/* Validate a whole compound; returns the number of packets or WIRE_ERROR. */
int rtcp_validate(const uint8_t *buf, size_t len, unsigned flags, struct wire_error *err);

/* Walk the items of a parsed chunk: *pos starts at 0; returns false at the
 * end. Only meaningful on a chunk rtcp_iter_next accepted. */
bool rtcp_sdes_item_next(const struct rtcp_sdes_chunk *chunk, size_t *pos,
                         struct rtcp_sdes_item *item);

/* Appends packets to a compound in a caller buffer. */
struct rtcp_builder {
    uint8_t *buf;    /* output */
    size_t cap;      /* its capacity */
    size_t len;      /* bytes written so far */
    size_t last_off; /* start of the last packet appended (for padding) */
    unsigned count;  /* packets appended */
    bool padded;     /* the last packet has padding, so nothing may follow */
};

void rtcp_builder_init(struct rtcp_builder *b, uint8_t *buf, size_t cap);

/* Each rtcp_add_* appends one packet and returns its length, or WIRE_ERROR
 * leaving the builder unchanged (too many blocks/sources, cumulative_lost
 * outside 24 bits, a text longer than 255 bytes, overflow of cap). */
int rtcp_add_sr(struct rtcp_builder *b, uint32_t ssrc, const struct rtcp_sender_info *si,
                const struct rtcp_report_block *blocks, unsigned block_count,
                struct wire_error *err);
int rtcp_add_rr(struct rtcp_builder *b, uint32_t ssrc, const struct rtcp_report_block *blocks,
                unsigned block_count, struct wire_error *err);
int rtcp_add_sdes(struct rtcp_builder *b, const struct rtcp_sdes_chunk_spec *chunks,
                  unsigned chunk_count, struct wire_error *err);
/* SDES with one chunk holding one CNAME item. */
int rtcp_add_sdes_cname(struct rtcp_builder *b, uint32_t ssrc, struct wire_str cname,
                        struct wire_error *err);
/* BYE; reason.ptr NULL (or len 0) leaves the reason out. */
int rtcp_add_bye(struct rtcp_builder *b, const uint32_t *ssrc, unsigned ssrc_count,
                 struct wire_str reason, struct wire_error *err);
/* APP: subtype 0..31, name exactly 4 bytes, data_len a multiple of 4. */
int rtcp_add_app(struct rtcp_builder *b, uint8_t subtype, uint32_t ssrc, const char name[4],
                 const uint8_t *data, size_t data_len, struct wire_error *err);
/* Pad the last packet by pad_len bytes (a multiple of 4, 4..252) and set
 * its P bit; it must then stay the last packet. For tests of receivers. */
int rtcp_add_padding(struct rtcp_builder *b, unsigned pad_len, struct wire_error *err);

/* The RR cumulative-lost field's clamp (RFC 3550 A.3): a 64-bit count of
 * lost packets to the signed 24-bit range. Use it knowingly; the analyzer
 * reports the unclamped count. */
int32_t rtcp_cumulative_lost_clamp(int64_t lost);

/* NTP timestamps: 32 bits of seconds since 1900-01-01 and 32 bits of
 * fraction, as one uint64_t. */
#define NTP_UNIX_OFFSET 2208988800u /* seconds from 1900 to 1970 */

/* Unix time to NTP (seconds wrap modulo 2^32 as on the wire). */
uint64_t ntp_from_timespec(const struct timespec *ts);
/* NTP to Unix time; seconds with the top bit clear are taken to be in NTP
 * era 1 (2036-2104), as RFC 4330 3 suggests. */
void ntp_to_timespec(uint64_t ntp, struct timespec *ts);
/* The middle 32 bits (16.16 seconds), as LSR and DLSR use. */
uint32_t ntp_compact(uint64_t ntp);
/* Compact NTP (1/65536 s) to nanoseconds. */
int64_t ntp_compact_to_ns(int32_t compact);
/* Round-trip delay of RFC 3550 6.4.1: arrival - LSR - DLSR, all compact
 * NTP, arrival_compact being when the RR carrying lsr/dlsr arrived. Returns
 * false when lsr is 0 (no SR received yet); otherwise *rtt_ns, which is
 * negative when clocks or fields are inconsistent (reported, not hidden). */
bool ntp_rtt_ns(uint32_t arrival_compact, uint32_t lsr, uint32_t dlsr, int64_t *rtt_ns);

#endif
