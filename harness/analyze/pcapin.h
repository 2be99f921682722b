/* Capture input for the analyzer: reads pcap and pcapng files through
 * libpcap (nanosecond timestamps) and decodes each frame down to its
 * transport layer (IPv4/IPv6, TCP/UDP) without copying or allocating.
 *
 * Two layers: pkt_decode() is a pure function from a link type and the
 * frame's bytes to a struct pkt, usable on its own by tests and the fuzzer;
 * struct pcapin wraps a libpcap handle and returns frames one at a time,
 * numbered 1, 2, ... as Wireshark numbers them. A struct pkt points into
 * libpcap's buffer: it is valid until the next pcapin_next() or
 * pcapin_close(). Memory does not grow with the capture.
 *
 * Supported link types: DLT_EN10MB (with stacked 802.1Q/802.1ad tags),
 * DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW (and LINKTYPE_RAW 101),
 * DLT_IPV4, DLT_IPV6, DLT_NULL and DLT_LOOP (family in either byte order).
 * IPv4 fragments: the first is decoded when its TCP/UDP header is present,
 * later ones are marked and not decoded; the same holds for IPv6 fragment
 * headers. Every fragment also has its identification, offset and data
 * in p->frag, for reassembly (ipreasm.h); nothing is reassembled here.
 * Hop-by-hop, routing, destination-options and AH headers are skipped.
 */
#ifndef RTSP_HARNESS_PCAPIN_H
#define RTSP_HARNESS_PCAPIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pcap/pcap.h>

#include "wire.h"

#define PCAPIN_LINKTYPE_RAW 101 /* LINKTYPE_RAW as written in files; libpcap maps it to DLT_RAW */

/* Transport layer of a decoded packet. */
enum pkt_l4 {
    PKT_L4_NONE = 0, /* no IP header decoded */
    PKT_L4_TCP,      /* TCP header decoded */
    PKT_L4_UDP,      /* UDP header decoded */
    PKT_L4_OTHER,    /* IP, but not TCP or UDP, or a later fragment */
};

/* TCP flag bits as in the header's flags byte. */
#define PKT_TCP_FIN 0x01
#define PKT_TCP_SYN 0x02
#define PKT_TCP_RST 0x04
#define PKT_TCP_PSH 0x08
#define PKT_TCP_ACK 0x10
#define PKT_TCP_URG 0x20

/* One end of a flow. */
struct pkt_endpoint {
    uint8_t family;   /* 4 or 6; 0 when unknown */
    uint8_t addr[16]; /* address in network order; IPv4 uses the first 4 bytes, the rest 0 */
    uint16_t port;    /* TCP/UDP port in host order; 0 when no L4 header */
};

/* Where an IP fragment sits in its datagram (struct pkt, fragment true). */
struct pkt_frag {
    uint32_t id;          /* identification: 16 bits (IPv4) or 32 bits (IPv6 fragment header) */
    uint32_t offset;      /* byte offset of data in the datagram's fragmentable part */
    bool more;            /* MF (IPv4) or M (IPv6): more fragments follow */
    uint8_t proto;        /* IPv4 protocol, or the IPv6 fragment header's next header */
    uint32_t hdr_len;     /* IPv4 header bytes, or IPv6 extension bytes before the fragment header */
    const uint8_t *data;  /* the fragment's data in the frame */
    size_t data_len;      /* bytes of data captured */
    size_t data_wire_len; /* bytes of data on the wire */
};

/* Longest output of pkt_endpoint_format: "[" IPv6 "]:" port NUL. */
#define PKT_ENDPOINT_STRLEN 56

/* One frame, decoded as far as it goes. Pointers are into the frame. */
struct pkt {
    uint64_t frame;            /* 1-based frame number in the capture (0 from pkt_decode) */
    int64_t ts_ns;             /* capture time, ns since the Unix epoch (0 from pkt_decode) */
    const uint8_t *data;       /* the frame as captured: caplen bytes, from the link header on */
    uint32_t caplen;           /* bytes captured */
    uint32_t wirelen;          /* bytes on the wire */
    uint8_t ip_version;        /* 4 or 6; 0 when no IP header was decoded */
    uint8_t ip_proto;          /* IP protocol / final IPv6 next header (6 TCP, 17 UDP ...) */
    enum pkt_l4 l4;            /* which transport header was decoded */
    struct pkt_endpoint src;   /* sender: address and port */
    struct pkt_endpoint dst;   /* receiver: address and port */
    uint32_t tcp_seq;          /* TCP sequence number */
    uint32_t tcp_ack;          /* TCP acknowledgment number (meaningful with PKT_TCP_ACK) */
    uint8_t tcp_flags;         /* PKT_TCP_* bits */
    const uint8_t *payload;    /* first byte after the TCP/UDP header; NULL without one */
    size_t payload_len;        /* payload bytes present in the capture */
    size_t payload_wire_len;   /* payload bytes on the wire, from the IP (and UDP) lengths */
    bool truncated;            /* the capture cut the frame (caplen < wirelen) */
    bool fragment;             /* an IP fragment: payload is not a whole datagram */
    struct pkt_frag frag;      /* the fragment's place and data; set only when fragment is true */
    const char *why;           /* NULL when TCP/UDP was decoded, else why not (static text) */
};

/* Decode one frame of link type dlt. caplen bytes are readable at data;
 * wirelen is the length on the wire. Returns 0 when a TCP or UDP header
 * was decoded (p->l4 says which; a first fragment counts), or WIRE_ERROR
 * when the frame is not IPv4/IPv6 TCP/UDP, is malformed, is a later
 * fragment or is cut before its transport header: p->why (and *why when
 * why is not NULL) then says which, and p is filled as far as decoding
 * went (p->ip_version, addresses, p->truncated). Never reads beyond
 * caplen. p->frame and p->ts_ns are left 0 for the caller (pcapin_next
 * sets them). */
int pkt_decode(int dlt, const uint8_t *data, size_t caplen, size_t wirelen, struct pkt *p,
               const char **why);

/* True when pkt_decode knows link type dlt. */
bool pkt_dlt_supported(int dlt);

/* Write "1.2.3.4:554" or "[::1]:554" into buf (at most len bytes with the
 * NUL; PKT_ENDPOINT_STRLEN always fits). Returns buf; "?" for family 0. */
char *pkt_endpoint_format(const struct pkt_endpoint *e, char *buf, size_t len);

/* True when a and b are the same address and port. */
bool pkt_endpoint_eq(const struct pkt_endpoint *a, const struct pkt_endpoint *b);

#define PCAPIN_ERR_MAX (PCAP_ERRBUF_SIZE + 512)

/* An open capture file. Fields are read-only for the caller. */
struct pcapin {
    pcap_t *pcap;              /* libpcap handle; NULL when closed */
    char *iobuf;               /* stdio buffer of the file opened by pcapin_open */
    int dlt;                   /* link type of every frame (libpcap's DLT value) */
    const char *format;        /* "pcap" or "pcapng", from the file's magic */
    uint64_t frames;           /* frames read so far; the last one returned has this number */
    char name[256];            /* the path or name given to open, for messages */
    char err[PCAPIN_ERR_MAX];  /* last error message, "" when none */
};

/* Open path for reading. Returns 0, or WIRE_ERROR with in->err naming the
 * file ("x.pcap: ..."): missing, unreadable, not a pcap/pcapng file, or a
 * link type pkt_decode does not know. in needs no prior initialisation. */
int pcapin_open(struct pcapin *in, const char *path);

/* Same from an open stream positioned at the start of the file (e.g. from
 * fmemopen); name is used in messages. The stream must be seekable: its
 * magic is read, then it is rewound. On success pcapin_close closes fp;
 * on failure fp is closed too. */
int pcapin_open_stream(struct pcapin *in, FILE *fp, const char *name);

/* Read the next frame into p. Returns 1 with p filled (decoded or not: see
 * p->why), 0 at the end of the file, or WIRE_ERROR when the file is
 * truncated or corrupt: in->err says at which frame reading stopped and
 * includes libpcap's message. */
int pcapin_next(struct pcapin *in, struct pkt *p);

/* Close the file; safe to call twice or after a failed open. */
void pcapin_close(struct pcapin *in);

/* "pcap" or "pcapng". */
const char *pcapin_format(const struct pcapin *in);

/* libpcap's name of the link type: "EN10MB", "LINUX_SLL", "RAW", ... */
const char *pcapin_link_name(const struct pcapin *in);

/* Last error message ("" when none). */
const char *pcapin_error(const struct pcapin *in);

#endif
