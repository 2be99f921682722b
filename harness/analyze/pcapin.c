/* Capture input: pcap/pcapng through libpcap, frames decoded to the
 * transport layer; see pcapin.h. */
#include "pcapin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100   /* 802.1Q */
#define ETHERTYPE_QINQ 0x88a8   /* 802.1ad service tag */
#define ETHERTYPE_QINQ_OLD 0x9100 /* pre-standard stacked tag */
#define VLAN_TAGS_MAX 8         /* more than this is garbage, not a network */
#define IPV6_EXT_MAX 16         /* extension headers followed before giving up */

#define PROTO_TCP 6
#define PROTO_UDP 17
#define NH_HOPOPTS 0
#define NH_ROUTING 43
#define NH_FRAGMENT 44
#define NH_AH 51
#define NH_DSTOPTS 60

static int fail(struct pkt *p, const char **why, const char *reason)
{
    p->why = reason;
    if (why)
        *why = reason;
    return WIRE_ERROR;
}

/* The frame ends before need bytes of a header: cut by the snap length
 * when the bytes were on the wire, malformed otherwise. */
static int short_header(struct pkt *p, const char **why, size_t need, size_t wire,
                        const char *cut, const char *malformed)
{
    return fail(p, why, p->truncated && need <= wire ? cut : malformed);
}

static int decode_l4(uint8_t proto, const uint8_t *l4, size_t cap, size_t wire, struct pkt *p,
                     const char **why)
{
    p->ip_proto = proto;
    if (proto == PROTO_TCP) {
        if (wire < 20)
            return fail(p, why, p->fragment ? "TCP header not in the first fragment"
                                            : "IP payload shorter than a TCP header");
        if (cap < 20)
            return fail(p, why, "TCP header cut by the snap length");
        size_t doff = (size_t)(l4[12] >> 4) * 4;
        if (doff < 20)
            return fail(p, why, "TCP data offset below 5");
        if (doff > wire)
            return fail(p, why, "TCP data offset beyond the IP payload");
        if (doff > cap)
            return fail(p, why, "TCP options cut by the snap length");
        p->src.port = wire_get_be16(l4);
        p->dst.port = wire_get_be16(l4 + 2);
        p->tcp_seq = wire_get_be32(l4 + 4);
        p->tcp_ack = wire_get_be32(l4 + 8);
        p->tcp_flags = l4[13];
        p->l4 = PKT_L4_TCP;
        p->payload = l4 + doff;
        p->payload_wire_len = wire - doff;
        p->payload_len = cap - doff;
        return 0;
    }
    if (proto == PROTO_UDP) {
        if (wire < 8)
            return fail(p, why, p->fragment ? "UDP header not in the first fragment"
                                            : "IP payload shorter than a UDP header");
        if (cap < 8)
            return fail(p, why, "UDP header cut by the snap length");
        size_t ulen = wire_get_be16(l4 + 4);
        if (ulen < 8)
            return fail(p, why, "UDP length below 8");
        /* A first fragment holds only part of the datagram the UDP length covers. */
        if (ulen > wire && !p->fragment)
            return fail(p, why, "UDP length beyond the IP payload");
        p->src.port = wire_get_be16(l4);
        p->dst.port = wire_get_be16(l4 + 2);
        p->l4 = PKT_L4_UDP;
        p->payload = l4 + 8;
        p->payload_wire_len = ulen - 8;
        size_t have = cap - 8;
        p->payload_len = have < ulen - 8 ? have : ulen - 8;
        return 0;
    }
    p->l4 = PKT_L4_OTHER;
    return fail(p, why, "IP packet that is neither TCP nor UDP");
}

/* cap: bytes captured from ip on; wire: bytes on the wire from ip on (>= cap). */
static int decode_ipv4(const uint8_t *ip, size_t cap, size_t wire, struct pkt *p, const char **why)
{
    if (cap < 20)
        return short_header(p, why, 20, wire, "IPv4 header cut by the snap length",
                            "frame too short for an IPv4 header");
    size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
    if (ihl < 20)
        return fail(p, why, "IPv4 header length (IHL) below 5");
    size_t total = wire_get_be16(ip + 2);
    /* Total length 0: a segmentation-offload super-packet captured before
     * the NIC split it; the frame length is all there is to go by. */
    if (total == 0)
        total = wire;
    if (total < ihl)
        return fail(p, why, "IPv4 total length shorter than its header");
    if (total > wire)
        return fail(p, why, "IPv4 total length beyond the end of the frame");
    if (ihl > cap)
        return fail(p, why, "IPv4 options cut by the snap length");
    p->ip_version = 4;
    p->src.family = p->dst.family = 4;
    memcpy(p->src.addr, ip + 12, 4);
    memcpy(p->dst.addr, ip + 16, 4);
    p->ip_proto = ip[9];
    uint16_t frag = wire_get_be16(ip + 6);
    size_t frag_offset = (size_t)(frag & 0x1fff) * 8;
    if ((frag & 0x2000) || frag_offset) { /* MF or an offset: part of a datagram */
        p->fragment = true;
        p->frag.id = wire_get_be16(ip + 4);
        p->frag.offset = (uint32_t)frag_offset;
        p->frag.more = (frag & 0x2000) != 0;
        p->frag.proto = ip[9];
        p->frag.hdr_len = (uint32_t)ihl;
        p->frag.data = ip + ihl;
        p->frag.data_len = (cap < total ? cap : total) - ihl;
        p->frag.data_wire_len = total - ihl;
    }
    if (frag_offset) {
        p->l4 = PKT_L4_OTHER;
        return fail(p, why, "IPv4 fragment after the first (not decoded)");
    }
    size_t l4cap = (cap < total ? cap : total) - ihl;
    return decode_l4(ip[9], ip + ihl, l4cap, total - ihl, p, why);
}

static int decode_ipv6(const uint8_t *ip, size_t cap, size_t wire, struct pkt *p, const char **why)
{
    if (cap < 40)
        return short_header(p, why, 40, wire, "IPv6 header cut by the snap length",
                            "frame too short for an IPv6 header");
    size_t plen = wire_get_be16(ip + 4);
    if (plen == 0) /* jumbogram or offload super-packet: use the frame */
        plen = wire - 40;
    if (40 + plen > wire)
        return fail(p, why, "IPv6 payload length beyond the end of the frame");
    p->ip_version = 6;
    p->src.family = p->dst.family = 6;
    memcpy(p->src.addr, ip + 8, 16);
    memcpy(p->dst.addr, ip + 24, 16);
    size_t end = 40 + plen;                /* end of the packet on the wire */
    size_t capend = cap < end ? cap : end; /* end of what was captured */
    size_t pos = 40;
    uint8_t nh = ip[6];
    for (int n = 0;; n++) {
        if (n == IPV6_EXT_MAX)
            return fail(p, why, "too many IPv6 extension headers");
        if (nh == NH_HOPOPTS || nh == NH_ROUTING || nh == NH_DSTOPTS || nh == NH_AH) {
            if (pos + 2 > end)
                return fail(p, why, "IPv6 extension header beyond the payload length");
            if (pos + 2 > capend)
                return fail(p, why, "IPv6 extension header cut by the snap length");
            size_t len = nh == NH_AH ? ((size_t)ip[pos + 1] + 2) * 4 : ((size_t)ip[pos + 1] + 1) * 8;
            if (pos + len > end)
                return fail(p, why, "IPv6 extension header beyond the payload length");
            nh = ip[pos];
            pos += len;
            continue;
        }
        if (nh == NH_FRAGMENT) {
            if (pos + 8 > end)
                return fail(p, why, "IPv6 fragment header beyond the payload length");
            if (pos + 8 > capend)
                return fail(p, why, "IPv6 fragment header cut by the snap length");
            uint16_t off_m = wire_get_be16(ip + pos + 2);
            nh = ip[pos];
            /* offset 0 without M is an atomic fragment (RFC 6946): a whole datagram */
            if ((off_m & 0xfff8) || (off_m & 1)) {
                p->fragment = true;
                p->frag.id = wire_get_be32(ip + pos + 4);
                p->frag.offset = off_m & 0xfff8;
                p->frag.more = (off_m & 1) != 0;
                p->frag.proto = nh;
                p->frag.hdr_len = (uint32_t)(pos - 40);
                p->frag.data = ip + pos + 8;
                p->frag.data_len = capend - (pos + 8);
                p->frag.data_wire_len = end - (pos + 8);
            }
            pos += 8;
            if (off_m & 0xfff8) {
                p->ip_proto = nh;
                p->l4 = PKT_L4_OTHER;
                return fail(p, why, "IPv6 fragment after the first (not decoded)");
            }
            continue;
        }
        break;
    }
    size_t l4cap = capend > pos ? capend - pos : 0;
    return decode_l4(nh, ip + pos, l4cap, end - pos, p, why);
}

bool pkt_dlt_supported(int dlt)
{
    switch (dlt) {
    case DLT_EN10MB:
    case DLT_LINUX_SLL:
    case DLT_LINUX_SLL2:
    case DLT_RAW:
    case PCAPIN_LINKTYPE_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
    case DLT_NULL:
    case DLT_LOOP:
        return true;
    default:
        return false;
    }
}

int pkt_decode(int dlt, const uint8_t *d, size_t caplen, size_t wirelen, struct pkt *p,
               const char **why)
{
    /* Field by field: a memset of the whole struct costs more than the
     * decoding (rep stos) at millions of frames per second. */
    p->frame = 0;
    p->ts_ns = 0;
    p->ip_version = 0;
    p->ip_proto = 0;
    p->l4 = PKT_L4_NONE;
    memset(&p->src, 0, sizeof(p->src));
    memset(&p->dst, 0, sizeof(p->dst));
    p->tcp_seq = p->tcp_ack = 0;
    p->tcp_flags = 0;
    p->payload = NULL;
    p->payload_len = p->payload_wire_len = 0;
    p->fragment = false;
    p->why = NULL;
    p->data = d;
    p->caplen = caplen > UINT32_MAX ? UINT32_MAX : (uint32_t)caplen;
    p->wirelen = wirelen > UINT32_MAX ? UINT32_MAX : (uint32_t)wirelen;
    p->truncated = caplen < wirelen;
    if (wirelen < caplen) /* a corrupt record; the captured bytes are real */
        wirelen = caplen;

    size_t off;
    unsigned ethertype;
    int version = 0; /* 4 or 6 when the link layer says; 0: from the IP header */
    switch (dlt) {
    case DLT_EN10MB:
        if (caplen < 14)
            return short_header(p, why, 14, wirelen, "Ethernet header cut by the snap length",
                                "frame shorter than an Ethernet header");
        ethertype = wire_get_be16(d + 12);
        off = 14;
        break;
    case DLT_LINUX_SLL:
        if (caplen < 16)
            return short_header(p, why, 16, wirelen, "Linux cooked header cut by the snap length",
                                "frame shorter than a Linux cooked header");
        ethertype = wire_get_be16(d + 14);
        off = 16;
        break;
    case DLT_LINUX_SLL2:
        if (caplen < 20)
            return short_header(p, why, 20, wirelen, "Linux cooked v2 header cut by the snap length",
                                "frame shorter than a Linux cooked v2 header");
        ethertype = wire_get_be16(d);
        off = 20;
        break;
    case DLT_RAW:
    case PCAPIN_LINKTYPE_RAW:
        off = 0;
        ethertype = 0;
        break;
    case DLT_IPV4:
        off = 0;
        ethertype = ETHERTYPE_IPV4;
        break;
    case DLT_IPV6:
        off = 0;
        ethertype = ETHERTYPE_IPV6;
        break;
    case DLT_NULL:
    case DLT_LOOP: {
        /* The family is in the capturing host's byte order (DLT_NULL) or
         * supposedly network order (DLT_LOOP); families are small numbers,
         * so a value with high bits set is the other byte order. */
        if (caplen < 4)
            return short_header(p, why, 4, wirelen, "loopback header cut by the snap length",
                                "frame shorter than a loopback header");
        uint32_t fam = (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 |
                       (uint32_t)d[3] << 24;
        if (fam & 0xffff0000u)
            fam = __builtin_bswap32(fam);
        off = 4;
        if (fam == 2)
            ethertype = ETHERTYPE_IPV4;
        else if (fam == 10 || fam == 24 || fam == 28 || fam == 30) /* Linux, *BSD, FreeBSD, Darwin */
            ethertype = ETHERTYPE_IPV6;
        else
            return fail(p, why, "loopback frame of an address family other than IPv4/IPv6");
        break;
    }
    default:
        return fail(p, why, "link type not supported");
    }

    if (dlt == DLT_EN10MB || dlt == DLT_LINUX_SLL || dlt == DLT_LINUX_SLL2) {
        for (int tags = 0;
             ethertype == ETHERTYPE_VLAN || ethertype == ETHERTYPE_QINQ || ethertype == ETHERTYPE_QINQ_OLD;
             tags++) {
            if (tags == VLAN_TAGS_MAX)
                return fail(p, why, "too many VLAN tags");
            if (caplen - off < 4)
                return short_header(p, why, off + 4, wirelen, "VLAN tag cut by the snap length",
                                    "frame ends inside a VLAN tag");
            ethertype = wire_get_be16(d + off + 2);
            off += 4;
        }
        if (ethertype != ETHERTYPE_IPV4 && ethertype != ETHERTYPE_IPV6)
            return fail(p, why, "not IPv4 or IPv6 (other ethertype)");
    }
    if (ethertype == ETHERTYPE_IPV4)
        version = 4;
    else if (ethertype == ETHERTYPE_IPV6)
        version = 6;

    if (off >= caplen)
        return short_header(p, why, off + 1, wirelen, "IP header cut by the snap length",
                            "frame ends before the IP header");
    const uint8_t *ip = d + off;
    size_t cap = caplen - off, wire = wirelen - off;
    int v = ip[0] >> 4;
    if (version && v != version)
        return fail(p, why, "IP version differs from the link layer's protocol");
    if (v == 4)
        return decode_ipv4(ip, cap, wire, p, why);
    if (v == 6)
        return decode_ipv6(ip, cap, wire, p, why);
    return fail(p, why, "raw frame that is not IPv4 or IPv6");
}

char *pkt_endpoint_format(const struct pkt_endpoint *e, char *buf, size_t len)
{
    char a[INET6_ADDRSTRLEN];
    if (len == 0)
        return buf;
    if (e->family == 4 && inet_ntop(AF_INET, e->addr, a, sizeof(a)))
        snprintf(buf, len, "%s:%u", a, (unsigned)e->port);
    else if (e->family == 6 && inet_ntop(AF_INET6, e->addr, a, sizeof(a)))
        snprintf(buf, len, "[%s]:%u", a, (unsigned)e->port);
    else
        snprintf(buf, len, "?");
    return buf;
}

bool pkt_endpoint_eq(const struct pkt_endpoint *a, const struct pkt_endpoint *b)
{
    return a->family == b->family && a->port == b->port && memcmp(a->addr, b->addr, 16) == 0;
}

static int open_fail(struct pcapin *in, const char *detail)
{
    snprintf(in->err, sizeof(in->err), "%s: %s", in->name, detail);
    return WIRE_ERROR;
}

int pcapin_open_stream(struct pcapin *in, FILE *fp, const char *name)
{
    memset(in, 0, sizeof(*in));
    snprintf(in->name, sizeof(in->name), "%s", name ? name : "capture");
    uint8_t m[4];
    if (fread(m, 1, sizeof(m), fp) != sizeof(m)) {
        fclose(fp);
        return open_fail(in, "too short for a capture file (no magic number)");
    }
    uint32_t magic = wire_get_be32(m);
    if (magic == 0x0a0d0d0au) {
        in->format = "pcapng";
    } else if (magic == 0xa1b2c3d4u || magic == 0xd4c3b2a1u ||  /* microseconds */
               magic == 0xa1b23c4du || magic == 0x4d3cb2a1u ||  /* nanoseconds */
               magic == 0xa1b2cd34u || magic == 0x34cdb2a1u) { /* Kuznetzov's modified pcap */
        in->format = "pcap";
    } else {
        fclose(fp);
        char detail[64];
        snprintf(detail, sizeof(detail), "not a pcap or pcapng file (magic number 0x%08x)", magic);
        return open_fail(in, detail);
    }
    if (fseek(fp, 0, SEEK_SET) != 0) {
        fclose(fp);
        return open_fail(in, "cannot rewind the file (not seekable)");
    }
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    in->pcap = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (!in->pcap) {
        fclose(fp); /* libpcap leaves the stream to the caller on failure */
        return open_fail(in, errbuf);
    }
    in->dlt = pcap_datalink(in->pcap);
    if (!pkt_dlt_supported(in->dlt)) {
        char detail[160];
        const char *n = pcap_datalink_val_to_name(in->dlt);
        snprintf(detail, sizeof(detail),
                 "link type %s (%d) is not supported (EN10MB, LINUX_SLL, LINUX_SLL2, RAW, "
                 "IPV4, IPV6, NULL, LOOP are)",
                 n ? n : "unknown", in->dlt);
        pcap_close(in->pcap);
        in->pcap = NULL;
        return open_fail(in, detail);
    }
    return 0;
}

/* libpcap reads through stdio, a record header and its data at a time. A
 * 64 KiB buffer means few read(2) calls while the buffer stays in cache:
 * measured on a 1.8 GB capture, 1 MiB buffers made the whole analysis 2.5x
 * slower (every byte copied through memory twice), 4 KiB (stdio's default)
 * and 16 KiB cost more system time. */
#define PCAPIN_IOBUF_BYTES (64 << 10)

int pcapin_open(struct pcapin *in, const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        memset(in, 0, sizeof(*in));
        snprintf(in->name, sizeof(in->name), "%s", path);
        return open_fail(in, strerror(errno));
    }
    char *iobuf = malloc(PCAPIN_IOBUF_BYTES);
    if (iobuf)
        setvbuf(fp, iobuf, _IOFBF, PCAPIN_IOBUF_BYTES);
    int r = pcapin_open_stream(in, fp, path); /* closes fp on failure */
    if (r != 0)
        free(iobuf);
    else
        in->iobuf = iobuf;
    return r;
}

int pcapin_next(struct pcapin *in, struct pkt *p)
{
    if (!in->pcap) {
        snprintf(in->err, sizeof(in->err), "%s: not open", in->name);
        return WIRE_ERROR;
    }
    for (;;) {
        struct pcap_pkthdr *h;
        const u_char *data;
        int r = pcap_next_ex(in->pcap, &h, &data);
        if (r == 1) {
            in->frames++;
            pkt_decode(in->dlt, data, h->caplen, h->len, p, NULL);
            p->frame = in->frames;
            /* tv_usec holds nanoseconds at PCAP_TSTAMP_PRECISION_NANO; the
             * unsigned arithmetic wraps instead of overflowing on absurd times */
            p->ts_ns = (int64_t)((uint64_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec);
            return 1;
        }
        if (r == 0) /* live capture timeout; does not happen on files */
            continue;
        if (r == PCAP_ERROR_BREAK)
            return 0;
        snprintf(in->err, sizeof(in->err),
                 "%s: reading stopped at frame %llu (%llu frames read): %s", in->name,
                 (unsigned long long)in->frames + 1, (unsigned long long)in->frames,
                 pcap_geterr(in->pcap));
        return WIRE_ERROR;
    }
}

void pcapin_close(struct pcapin *in)
{
    if (in->pcap) {
        pcap_close(in->pcap); /* closes the stream, which may use iobuf */
        in->pcap = NULL;
    }
    free(in->iobuf);
    in->iobuf = NULL;
}

const char *pcapin_format(const struct pcapin *in)
{
    return in->format ? in->format : "unknown";
}

const char *pcapin_link_name(const struct pcapin *in)
{
    const char *n = pcap_datalink_val_to_name(in->dlt);
    return n ? n : "unknown";
}

const char *pcapin_error(const struct pcapin *in)
{
    return in->err;
}
