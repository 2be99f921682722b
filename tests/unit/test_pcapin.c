/* Unit tests of the capture input (harness/analyze/pcapin.h): decoding of
 * hand-built frames for every supported link type, VLAN tags, IPv4 options,
 * IPv6 extension headers, fragments, frames cut by the snap length,
 * malformed headers and random garbage (never out of bounds); reading
 * pcap and pcapng files with nanosecond timestamps; errors for missing,
 * foreign and corrupt files naming the file and the frame. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze/pcapin.h"
#include "check.h"

static const uint8_t v4_src[4] = {192, 0, 2, 1};
static const uint8_t v4_dst[4] = {198, 51, 100, 7};
static const uint8_t v6_src[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
static const uint8_t v6_dst[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};

/* ---- frame builders ---- */

static void be16(uint8_t *p, unsigned v) { wire_put_be16(p, (uint16_t)v); }

/* TCP header of doff 32-bit words (options NOP-filled) and payload. */
static size_t build_tcp(uint8_t *o, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
                        uint8_t flags, int doff, const char *payload)
{
    size_t hl = (size_t)doff * 4;
    memset(o, 0x01, hl < 20 ? 20 : hl);
    be16(o, sport);
    be16(o + 2, dport);
    wire_put_be32(o + 4, seq);
    wire_put_be32(o + 8, ack);
    o[12] = (uint8_t)(doff << 4);
    o[13] = flags;
    be16(o + 14, 65535);
    be16(o + 16, 0);
    be16(o + 18, 0);
    if (hl < 20)
        hl = 20;
    size_t n = strlen(payload);
    memcpy(o + hl, payload, n);
    return hl + n;
}

/* UDP header with length ulen (0: the right one) and payload. */
static size_t build_udp(uint8_t *o, uint16_t sport, uint16_t dport, const char *payload, int ulen)
{
    size_t n = strlen(payload);
    be16(o, sport);
    be16(o + 2, dport);
    be16(o + 4, ulen ? (unsigned)ulen : (unsigned)(8 + n));
    be16(o + 6, 0);
    memcpy(o + 8, payload, n);
    return 8 + n;
}

/* IPv4 header of ihl words (options NOP-filled), frag field, total length
 * total (0: the right one, -1: write 0) around l4. */
static size_t build_ipv4(uint8_t *o, int ihl, uint8_t proto, uint16_t frag, const uint8_t *l4,
                         size_t l4len, int total)
{
    size_t hl = (size_t)ihl * 4;
    memset(o, 0x01, hl < 20 ? 20 : hl);
    o[0] = (uint8_t)(0x40 | ihl);
    o[1] = 0;
    be16(o + 2, total < 0 ? 0 : total ? (unsigned)total : (unsigned)(hl + l4len));
    be16(o + 4, 0x1234);
    be16(o + 6, frag);
    o[8] = 64;
    o[9] = proto;
    be16(o + 10, 0);
    memcpy(o + 12, v4_src, 4);
    memcpy(o + 16, v4_dst, 4);
    if (hl < 20)
        hl = 20;
    memcpy(o + hl, l4, l4len);
    return hl + l4len;
}

/* IPv6 header with next header nh, then ext (raw extension headers), then l4. */
static size_t build_ipv6(uint8_t *o, uint8_t nh, const uint8_t *ext, size_t extlen,
                         const uint8_t *l4, size_t l4len)
{
    o[0] = 0x60;
    o[1] = o[2] = o[3] = 0;
    be16(o + 4, (unsigned)(extlen + l4len));
    o[6] = nh;
    o[7] = 64;
    memcpy(o + 8, v6_src, 16);
    memcpy(o + 24, v6_dst, 16);
    if (extlen)
        memcpy(o + 40, ext, extlen);
    memcpy(o + 40 + extlen, l4, l4len);
    return 40 + extlen + l4len;
}

/* Ethernet with ntags VLAN tags (their TPIDs in tpid[]) and ethertype. */
static size_t build_eth(uint8_t *o, const uint16_t *tpid, int ntags, uint16_t ethertype,
                        const uint8_t *ip, size_t iplen)
{
    memset(o, 0xaa, 12);
    size_t off = 12;
    for (int i = 0; i < ntags; i++) {
        be16(o + off, tpid[i]);
        be16(o + off + 2, (unsigned)(100 + i));
        off += 4;
    }
    be16(o + off, ethertype);
    off += 2;
    memcpy(o + off, ip, iplen);
    return off + iplen;
}

/* A TCP/IPv4 packet (no link header) with payload "hello". */
static size_t v4_tcp_hello(uint8_t *ip)
{
    uint8_t l4[128];
    size_t n = build_tcp(l4, 40000, 554, 1000, 2000, PKT_TCP_ACK | PKT_TCP_PSH, 5, "hello");
    return build_ipv4(ip, 5, 6, 0x4000, l4, n, 0);
}

static void check_v4_tcp_hello(const struct pkt *p, const uint8_t *frame, size_t len)
{
    CHECK(p->why == NULL);
    CHECK_EQ_INT(p->ip_version, 4);
    CHECK_EQ_INT(p->l4, PKT_L4_TCP);
    CHECK_EQ_INT(p->ip_proto, 6);
    CHECK(memcmp(p->src.addr, v4_src, 4) == 0);
    CHECK(memcmp(p->dst.addr, v4_dst, 4) == 0);
    CHECK_EQ_INT(p->src.port, 40000);
    CHECK_EQ_INT(p->dst.port, 554);
    CHECK_EQ_INT(p->tcp_seq, 1000);
    CHECK_EQ_INT(p->tcp_ack, 2000);
    CHECK_EQ_INT(p->tcp_flags, PKT_TCP_ACK | PKT_TCP_PSH);
    CHECK_EQ_INT(p->payload_len, 5);
    CHECK_EQ_INT(p->payload_wire_len, 5);
    CHECK(p->payload == frame + len - 5);
    CHECK(p->data == frame);
    CHECK_STR(p->payload, p->payload_len, "hello");
    CHECK(!p->truncated);
    CHECK(!p->fragment);
    CHECK_EQ_INT(p->caplen, len);
    CHECK_EQ_INT(p->wirelen, len);
}

/* ---- link types ---- */

static void ethernet_ipv4_tcp(void)
{
    uint8_t ip[256], f[300];
    size_t n = build_eth(f, NULL, 0, 0x0800, ip, v4_tcp_hello(ip));
    struct pkt p;
    const char *why = "unset";
    CHECK_EQ_INT(pkt_decode(DLT_EN10MB, f, n, n, &p, &why), 0);
    CHECK(why == NULL || strcmp(why, "unset") == 0);
    check_v4_tcp_hello(&p, f, n);
    char a[PKT_ENDPOINT_STRLEN], b[PKT_ENDPOINT_STRLEN];
    CHECK(strcmp(pkt_endpoint_format(&p.src, a, sizeof(a)), "192.0.2.1:40000") == 0);
    CHECK(strcmp(pkt_endpoint_format(&p.dst, b, sizeof(b)), "198.51.100.7:554") == 0);
    /* every address byte beyond IPv4's four is zero, so endpoints compare as keys */
    for (int i = 4; i < 16; i++)
        CHECK_EQ_INT(p.src.addr[i], 0);
}

static void ethernet_ipv4_udp_and_padding(void)
{
    uint8_t l4[64], ip[128], f[128];
    size_t n = build_udp(l4, 5004, 6000, "rtp", 0);
    size_t il = build_ipv4(ip, 5, 17, 0, l4, n, 0);
    size_t fl = build_eth(f, NULL, 0, 0x0800, ip, il);
    /* Ethernet pads to 60 bytes; the padding is not payload */
    memset(f + fl, 0xee, 60 - fl);
    struct pkt p;
    CHECK_EQ_INT(pkt_decode(DLT_EN10MB, f, 60, 60, &p, NULL), 0);
    CHECK_EQ_INT(p.l4, PKT_L4_UDP);
    CHECK_EQ_INT(p.src.port, 5004);
    CHECK_EQ_INT(p.dst.port, 6000);
    CHECK_STR(p.payload, p.payload_len, "rtp");
    CHECK_EQ_INT(p.payload_wire_len, 3);
}

static void ethernet_padding_is_not_tcp_payload(void)
{
    uint8_t l4[64], ip[128], f[128];
    size_t n = build_tcp(l4, 554, 40000, 1, 2, PKT_TCP_ACK, 5, ""); /* a pure ACK */
    size_t fl = build_eth(f, NULL, 0, 0x0800, ip, build_ipv4(ip, 5, 6, 0, l4, n, 0));
    CHECK_EQ_INT(fl, 54);
    memset(f + fl, 0xee, 60 - fl);
    memcpy(f + 14, ip, 40);
    struct pkt p;
    CHECK_EQ_INT(pkt_decode(DLT_EN10MB, f, 60, 60, &p, NULL), 0);
    CHECK_EQ_INT(p.payload_len, 0);
    CHECK_EQ_INT(p.payload_wire_len, 0);
}

static void vlan_single_double_and_too_many(void)
{
    uint8_t ip[256], f[400];
    size_t il = v4_tcp_hello(ip);
    struct pkt p;

    uint16_t one[] = {0x8100};
    size_t n = build_eth(f, one, 1, 0x0800, ip, il);
    CHECK_EQ_INT(pkt_decode(DLT_EN10MB, f, n, n, &p, NULL), 0);
    check_v4_tcp_hello(&p, f, n);

    uint16_t two[] = {0x88a8, 0x8100}; /* 802.1ad service tag over 802.1Q */
    n = build_eth(f, two, 2, 0x0800, ip, il);
    CHECK_EQ_INT(pkt_decode(DLT_EN10MB, f, n, n, &p, NULL), 0);
    check_v4_tcp_hello(&p, f, n);

    uint16_t old[] = {0x9100, 0x9100, 0x8100};
    n = build_eth(f, old, 3, 0x0800, ip, il);
    CHECK_EQ_INT(pkt_decode(DLT_EN10MB, f, n, n, &p, NULL), 0);
    check_v4_tcp_hello(&p, f, n);

    uint16_t many[9] = {0x8100, 0x8100, 0x8100, 0x8100, 0x8100, 0x8100, 0x8100, 0x8100, 0x8100};
    n = build_eth(f, many, 9, 0x0800, ip, il);
    const char *why = NULL;
    CHECK_EQ_INT(pkt_decode(DLT_EN10MB, f, n, n, &p, &why), WIRE_ERROR);
    CHECK(why && strstr(why, "VLAN"));

    /* the frame ends inside the second tag */
    n = build_eth(f, two, 2, 0x0800, ip, il);
    CHECK_EQ_INT(pkt_decode(DLT_EN10MB, f, 18, 18, &p, &why), WIRE_ERROR);
    CHECK(why && strstr(why, "VLAN tag") && !p.truncated);
    CHECK_EQ_INT(pkt_decode(DLT_EN10MB, f, 18, n, &p, &why), WIRE_ERROR);
    CHECK(why && strstr(why, "snap length") && p.truncated);
}

static void linux_sll_and_sll2(void)
{
    uint8_t ip[256], f[300];
    size_t il = v4_tcp_hello(ip);
    struct pkt p;

    memset(f, 0, 16);
    be16(f, 4);      /* packet type: sent by us */
    be16(f + 2, 772); /* ARPHRD_LOOPBACK */
    be16(f + 4, 6);
    be16(f + 14, 0x0800);
    memcpy(f + 16, ip, il);
    CHECK_EQ_INT(pkt_decode(DLT_LINUX_SLL, f, 16 + il, 16 + il, &p, NULL), 0);
    check_v4_tcp_hello(&p, f, 16 + il);

    /* a VLAN tag the kernel left in place */
    be16(f + 14, 0x8100);
    be16(f + 16, 7);
    be16(f + 18, 0x0800);
    memcpy(f + 20, ip, il);
    CHECK_EQ_INT(pkt_decode(DLT_LINUX_SLL, f, 20 + il, 20 + il, &p, NULL), 0);
    check_v4_tcp_hello(&p, f, 20 + il);

    memset(f, 0, 20);
    be16(f, 0x0800); /* protocol first in SLL2 */
    wire_put_be32(f + 4, 1);
    be16(f + 8, 1);
    memcpy(f + 20, ip, il);
    CHECK_EQ_INT(pkt_decode(DLT_LINUX_SLL2, f, 20 + il, 20 + il, &p, NULL), 0);
    check_v4_tcp_hello(&p, f, 20 + il);

    be16(f, 0x0806); /* ARP */
    const char *why = NULL;
    CHECK_EQ_INT(pkt_decode(DLT_LINUX_SLL2, f, 20 + il, 20 + il, &p, &why), WIRE_ERROR);
    CHECK(why && strstr(why, "ethertype"));
    CHECK_EQ_INT(p.ip_version, 0);
}

static void raw_ipv4_ipv6_link_types(void)
{
    uint8_t ip[256];
    size_t il = v4_tcp_hello(ip);
    struct pkt p;
    CHECK_EQ_INT(pkt_decode(DLT_RAW, ip, il, il, &p, NULL), 0);
    check_v4_tcp_hello(&p, ip, il);
    CHECK_EQ_INT(pkt_decode(PCAPIN_LINKTYPE_RAW, ip, il, il, &p, NULL), 0);
    check_v4_tcp_hello(&p, ip, il);
    CHECK_EQ_INT(pkt_decode(DLT_IPV4, ip, il, il, &p, NULL), 0);
    check_v4_tcp_hello(&p, ip, il);
    const char *why = NULL;
    CHECK_EQ_INT(pkt_decode(DLT_IPV6, ip, il, il, &p, &why), WIRE_ERROR);
    CHECK(why && strstr(why, "version"));

    uint8_t l4[64], ip6[256];
    size_t n = build_udp(l4, 1, 2, "x", 0);
    size_t i6 = build_ipv6(ip6, 17, NULL, 0, l4, n);
    CHECK_EQ_INT(pkt_decode(DLT_RAW, ip6, i6, i6, &p, NULL), 0);
    CHECK_EQ_INT(p.ip_version, 6);
    CHECK_EQ_INT(pkt_decode(DLT_IPV6, ip6, i6, i6, &p, NULL), 0);
    CHECK_EQ_INT(p.l4, PKT_L4_UDP);

    ip6[0] = 0x50; /* neither 4 nor 6 */
    CHECK_EQ_INT(pkt_decode(DLT_RAW, ip6, i6, i6, &p, &why), WIRE_ERROR);
    CHECK_EQ_INT(pkt_decode(42, ip, il, il, &p, &why), WIRE_ERROR);
    CHECK(why && strstr(why, "link type"));
    CHECK(!pkt_dlt_supported(42));
    CHECK(pkt_dlt_supported(DLT_LINUX_SLL2));
}

static void null_and_loop_both_byte_orders(void)
{
    uint8_t ip[256], f[300];
    size_t il = v4_tcp_hello(ip);
    memcpy(f + 4, ip, il);
    struct pkt p;
    int dlts[] = {DLT_NULL, DLT_LOOP};
    for (int k = 0; k < 2; k++) {
        /* AF_INET = 2 little-endian (x86 DLT_NULL) and big-endian (DLT_LOOP) */
        uint8_t le[4] = {2, 0, 0, 0}, be[4] = {0, 0, 0, 2};
        memcpy(f, le, 4);
        CHECK_EQ_INT(pkt_decode(dlts[k], f, 4 + il, 4 + il, &p, NULL), 0);
        check_v4_tcp_hello(&p, f, 4 + il);
        memcpy(f, be, 4);
        CHECK_EQ_INT(pkt_decode(dlts[k], f, 4 + il, 4 + il, &p, NULL), 0);
        check_v4_tcp_hello(&p, f, 4 + il);
    }
    uint8_t l4[64], ip6[256];
    size_t i6 = build_ipv6(ip6, 17, NULL, 0, l4, build_udp(l4, 1, 2, "six", 0));
    memcpy(f + 4, ip6, i6);
    uint32_t fams[] = {10, 24, 28, 30};
    for (int i = 0; i < 4; i++) {
        f[0] = (uint8_t)fams[i];
        f[1] = f[2] = f[3] = 0;
        CHECK_EQ_INT(pkt_decode(DLT_NULL, f, 4 + i6, 4 + i6, &p, NULL), 0);
        CHECK_EQ_INT(p.ip_version, 6);
        wire_put_be32(f, fams[i]);
        CHECK_EQ_INT(pkt_decode(DLT_LOOP, f, 4 + i6, 4 + i6, &p, NULL), 0);
        CHECK_STR(p.payload, p.payload_len, "six");
    }
    const char *why = NULL;
    wire_put_be32(f, 7); /* AF_LOCAL */
    CHECK_EQ_INT(pkt_decode(DLT_LOOP, f, 4 + i6, 4 + i6, &p, &why), WIRE_ERROR);
    CHECK(why && strstr(why, "family"));
    CHECK_EQ_INT(pkt_decode(DLT_NULL, f, 3, 3, &p, &why), WIRE_ERROR);
}

/* ---- IP ---- */

static void ipv4_options_are_skipped(void)
{
    uint8_t l4[128], ip[256];
    size_t n = build_tcp(l4, 554, 40000, 7, 8, PKT_TCP_ACK, 8, "opt"); /* 12 bytes of TCP options */
    for (int ihl = 6; ihl <= 15; ihl += 9) {
        size_t il = build_ipv4(ip, ihl, 6, 0, l4, n, 0);
        struct pkt p;
        CHECK_EQ_INT(pkt_decode(DLT_RAW, ip, il, il, &p, NULL), 0);
        CHECK_EQ_INT(p.src.port, 554);
        CHECK_STR(p.payload, p.payload_len, "opt");
        CHECK(p.payload == ip + ihl * 4 + 32);
        /* cut in the middle of the options */
        const char *why = NULL;
        CHECK_EQ_INT(pkt_decode(DLT_RAW, ip, 22, il, &p, &why), WIRE_ERROR);
        CHECK(why && strstr(why, "IPv4 options cut"));
        CHECK(p.truncated);
    }
}

static void ipv4_total_length_zero_means_offload(void)
{
    uint8_t l4[128], ip[256];
    size_t n = build_tcp(l4, 1, 2, 3, 4, PKT_TCP_ACK, 5, "tso-segment");
    size_t il = build_ipv4(ip, 5, 6, 0, l4, n, -1);
    struct pkt p;
    CHECK_EQ_INT(pkt_decode(DLT_RAW, ip, il, il, &p, NULL), 0);
    CHECK_STR(p.payload, p.payload_len, "tso-segment");
}

static void ipv6_extension_headers_are_skipped(void)
{
    uint8_t l4[128], ext[64], ip[256];
    size_t n = build_tcp(l4, 554, 41000, 99, 100, PKT_TCP_ACK, 5, "v6");
    memset(ext, 0, sizeof(ext));
    ext[0] = 60; /* hop-by-hop (8 bytes), next: destination options */
    ext[1] = 0;
    ext[8] = 43; /* destination options (16 bytes), next: routing */
    ext[9] = 1;
    ext[24] = 6; /* routing (8 bytes), next: TCP */
    ext[25] = 0;
    size_t il = build_ipv6(ip, 0, ext, 32, l4, n);
    struct pkt p;
    CHECK_EQ_INT(pkt_decode(DLT_RAW, ip, il, il, &p, NULL), 0);
    CHECK_EQ_INT(p.ip_version, 6);
    CHECK_EQ_INT(p.l4, PKT_L4_TCP);
    CHECK_EQ_INT(p.tcp_seq, 99);
    CHECK(memcmp(p.src.addr, v6_src, 16) == 0);
    CHECK(memcmp(p.dst.addr, v6_dst, 16) == 0);
    CHECK_STR(p.payload, p.payload_len, "v6");
    char a[PKT_ENDPOINT_STRLEN];
    CHECK(strcmp(pkt_endpoint_format(&p.src, a, sizeof(a)), "[2001:db8::1]:554") == 0);
    struct pkt_endpoint lo = {6, {[15] = 1}, 554};
    CHECK(strcmp(pkt_endpoint_format(&lo, a, sizeof(a)), "[::1]:554") == 0);
    struct pkt_endpoint none = {0, {0}, 0};
    CHECK(strcmp(pkt_endpoint_format(&none, a, sizeof(a)), "?") == 0);

    /* extension header length running past the payload */
    ext[25] = 200;
    il = build_ipv6(ip, 0, ext, 32, l4, n);
    const char *why = NULL;
    CHECK_EQ_INT(pkt_decode(DLT_RAW, ip, il, il, &p, &why), WIRE_ERROR);
    CHECK(why && strstr(why, "extension header beyond"));
    /* cut inside the extension headers */
    ext[25] = 0;
    il = build_ipv6(ip, 0, ext, 32, l4, n);
    CHECK_EQ_INT(pkt_decode(DLT_RAW, ip, 49, il, &p, &why), WIRE_ERROR);
    CHECK(why && strstr(why, "snap length"));
}

static void ipv4_fragments(void)
{
    uint8_t l4[128], ip[256];
    /* first fragment: MF, offset 0, UDP header present; the UDP length covers the whole datagram */
    size_t n = build_udp(l4, 5004, 5006, "firstpart", 1000);
    size_t il = build_ipv4(ip, 5, 17, 0x2000, l4, n, 0);
    struct pkt p;
    CHECK_EQ_INT(pkt_decode(DLT_RAW, ip, il, il, &p, NULL), 0);
    CHECK(p.fragment);
    CHECK_EQ_INT(p.l4, PKT_L4_UDP);
    CHECK_EQ_INT(p.src.port, 5004);
    CHECK_STR(p.payload, p.payload_len, "firstpart");
    CHECK_EQ_INT(p.payload_wire_len, 992);
    /* the same datagram unfragmented would be malformed */
    il = build_ipv4(ip, 5, 17, 0, l4, n, 0);
    const char *why = NULL;
    CHECK_EQ_INT(pkt_decode(DLT_RAW, ip, il, il, &p, &why), WIRE_ERROR);
    CHECK(why && strstr(why, "UDP length beyond"));
    /* a later fragment: addresses known, not decoded */
    il = build_ipv4(ip, 5, 17, 0x2000 | 185, (const uint8_t *)"middle of datagram", 18, 0);
    CHECK_EQ_INT(pkt_decode(DLT_RAW, ip, il, il, &p, &why), WIRE_ERROR);
    CHECK(p.fragment);
    CHECK_EQ_INT(p.l4, PKT_L4_OTHER);
    CHECK_EQ_INT(p.ip_version, 4);
    CHECK(memcmp(p.src.addr, v4_src, 4) == 0);
    CHECK(p.payload == NULL);
    CHECK(why && strstr(why, "fragment after the first"));
    /* a first fragment too short for the TCP header */
    il = build_ipv4(ip, 5, 6, 0x2000, (const uint8_t *)"0123456789ab", 12, 0);
    CHECK_EQ_INT(pkt_decode(DLT_RAW, ip, il, il, &p, &why), WIRE_ERROR);
    CHECK(why && strstr(why, "first fragment"));
    /* DF alone is not a fragment */
    il = v4_tcp_hello(ip);
    CHECK_EQ_INT(pkt_decode(DLT_RAW, ip, il, il, &p, NULL), 0);
    CHECK(!p.fragment);
}

static void ipv6_fragments(void)
{
    uint8_t l4[128], frag[8], ip[256];
    size_t n = build_udp(l4, 7000, 7002, "v6frag", 0);
    struct pkt p;
    const char *why = NULL;
    /* first fragment: offset 0, M set */
    frag[0] = 17;
    frag[1] = 0;
    be16(frag + 2, 0x0001);
    wire_put_be32(frag + 4, 0xabcd);
    size_t il = build_ipv6(ip, 44, frag, 8, l4, n);
    CHECK_EQ_INT(pkt_decode(DLT_RAW, ip, il, il, &p, NULL), 0);
    CHECK(p.fragment);
    CHECK_EQ_INT(p.l4, PKT_L4_UDP);
    CHECK_STR(p.payload, p.payload_len, "v6frag");
    /* later fragment */
    be16(frag + 2, (100 << 3) | 1);
    il = build_ipv6(ip, 44, frag, 8, l4, n);
    CHECK_EQ_INT(pkt_decode(DLT_RAW, ip, il, il, &p, &why), WIRE_ERROR);
    CHECK(p.fragment);
    CHECK_EQ_INT(p.ip_proto, 17);
    CHECK(why && strstr(why, "IPv6 fragment after the first"));
    /* atomic fragment (offset 0, no M): a whole datagram */
    be16(frag + 2, 0);
    il = build_ipv6(ip, 44, frag, 8, l4, n);
    CHECK_EQ_INT(pkt_decode(DLT_RAW, ip, il, il, &p, NULL), 0);
    CHECK(!p.fragment);
}

/* ---- truncation and malformed headers ---- */

static void snaplen_cuts(void)
{
    uint8_t ip[256], f[300], l4[64];
    size_t n = build_eth(f, NULL, 0, 0x0800, ip, v4_tcp_hello(ip));
    struct pkt p;
    const char *why = NULL;

    CHECK_EQ_INT(pkt_decode(DLT_EN10MB, f, 10, n, &p, &why), WIRE_ERROR);
    CHECK(p.truncated && why && strstr(why, "Ethernet header cut"));
    CHECK_EQ_INT(pkt_decode(DLT_EN10MB, f, 14 + 10, n, &p, &why), WIRE_ERROR); /* mid IP */
    CHECK(p.truncated && why && strstr(why, "IPv4 header cut"));
    CHECK_EQ_INT(p.ip_version, 0);
    CHECK_EQ_INT(pkt_decode(DLT_EN10MB, f, 14, n, &p, &why), WIRE_ERROR); /* link header only */
    CHECK(p.truncated && why && strstr(why, "IP header cut"));
    uint8_t l4o[64], ipo[128], fo[160];
    size_t no = build_eth(fo, NULL, 0, 0x0800, ipo,
                          build_ipv4(ipo, 5, 6, 0, l4o, build_tcp(l4o, 1, 2, 3, 4, 0, 8, "x"), 0));
    CHECK_EQ_INT(pkt_decode(DLT_EN10MB, fo, 14 + 20 + 25, no, &p, &why), WIRE_ERROR); /* mid TCP options */
    CHECK(p.truncated && why && strstr(why, "TCP options cut"));
    CHECK_EQ_INT(pkt_decode(DLT_EN10MB, f, 14 + 20 + 7, n, &p, &why), WIRE_ERROR); /* mid TCP */
    CHECK(p.truncated && why && strstr(why, "TCP header cut"));
    CHECK_EQ_INT(p.ip_version, 4); /* the IP layer was decoded */
    CHECK(memcmp(p.dst.addr, v4_dst, 4) == 0);
    /* cut in the payload: decoded, payload shorter than on the wire */
    CHECK_EQ_INT(pkt_decode(DLT_EN10MB, f, n - 3, n, &p, &why), 0);
    CHECK(p.truncated);
    CHECK_EQ_INT(p.payload_len, 2);
    CHECK_EQ_INT(p.payload_wire_len, 5);
    CHECK_EQ_INT(p.caplen, n - 3);
    CHECK_EQ_INT(p.wirelen, n);

    size_t il = build_ipv4(ip, 5, 17, 0, l4, build_udp(l4, 1, 2, "payload", 0), 0);
    n = build_eth(f, NULL, 0, 0x0800, ip, il);
    CHECK_EQ_INT(pkt_decode(DLT_EN10MB, f, 14 + 20 + 5, n, &p, &why), WIRE_ERROR); /* mid UDP */
    CHECK(p.truncated && why && strstr(why, "UDP header cut"));
    CHECK_EQ_INT(pkt_decode(DLT_EN10MB, f, 14 + 20 + 8, n, &p, &why), 0);
    CHECK_EQ_INT(p.payload_len, 0);
    CHECK_EQ_INT(p.payload_wire_len, 7);

    uint8_t ip6[256];
    il = build_ipv6(ip6, 17, NULL, 0, l4, build_udp(l4, 1, 2, "x", 0));
    CHECK_EQ_INT(pkt_decode(DLT_RAW, ip6, 30, il, &p, &why), WIRE_ERROR); /* mid IPv6 */
    CHECK(p.truncated && why && strstr(why, "IPv6 header cut"));
    CHECK_EQ_INT(pkt_decode(DLT_RAW, ip6, 30, 30, &p, &why), WIRE_ERROR); /* just short */
    CHECK(!p.truncated && why && strstr(why, "too short"));
}

static void malformed_headers_have_reasons(void)
{
    uint8_t l4[128], ip[256];
    struct pkt p;
    const char *why;
    size_t n = build_tcp(l4, 1, 2, 3, 4, 0, 5, "abc");

    size_t il = build_ipv4(ip, 5, 6, 0, l4, n, 0);
    ip[0] = 0x44; /* IHL 4 */
    why = NULL;
    CHECK_EQ_INT(pkt_decode(DLT_RAW, ip, il, il, &p, &why), WIRE_ERROR);
    CHECK(why && strstr(why, "IHL"));
    CHECK(p.why == why);

    il = build_ipv4(ip, 5, 6, 0, l4, n, 19);
    CHECK_EQ_INT(pkt_decode(DLT_RAW, ip, il, il, &p, &why), WIRE_ERROR);
    CHECK(why && strstr(why, "shorter than its header"));

    il = build_ipv4(ip, 5, 6, 0, l4, n, 200);
    CHECK_EQ_INT(pkt_decode(DLT_RAW, ip, il, il, &p, &why), WIRE_ERROR);
    CHECK(why && strstr(why, "beyond the end of the frame"));

    l4[12] = 0x40; /* data offset 4 */
    il = build_ipv4(ip, 5, 6, 0, l4, n, 0);
    CHECK_EQ_INT(pkt_decode(DLT_RAW, ip, il, il, &p, &why), WIRE_ERROR);
    CHECK(why && strstr(why, "data offset below 5"));
    l4[12] = 0xf0; /* data offset 15: 60 bytes, more than the segment */
    il = build_ipv4(ip, 5, 6, 0, l4, n, 0);
    CHECK_EQ_INT(pkt_decode(DLT_RAW, ip, il, il, &p, &why), WIRE_ERROR);
    CHECK(why && strstr(why, "data offset beyond"));

    il = build_ipv4(ip, 5, 6, 0, l4, 10, 0); /* 10 bytes of "TCP" */
    CHECK_EQ_INT(pkt_decode(DLT_RAW, ip, il, il, &p, &why), WIRE_ERROR);
    CHECK(why && strstr(why, "shorter than a TCP header"));

    n = build_udp(l4, 1, 2, "abc", 7);
    il = build_ipv4(ip, 5, 17, 0, l4, n, 0);
    CHECK_EQ_INT(pkt_decode(DLT_RAW, ip, il, il, &p, &why), WIRE_ERROR);
    CHECK(why && strstr(why, "UDP length below 8"));
    n = build_udp(l4, 1, 2, "abc", 0);
    il = build_ipv4(ip, 5, 17, 0, l4, 5, 0);
    CHECK_EQ_INT(pkt_decode(DLT_RAW, ip, il, il, &p, &why), WIRE_ERROR);
    CHECK(why && strstr(why, "shorter than a UDP header"));

    il = build_ipv4(ip, 5, 1, 0, (const uint8_t *)"icmp....", 8, 0);
    CHECK_EQ_INT(pkt_decode(DLT_RAW, ip, il, il, &p, &why), WIRE_ERROR);
    CHECK_EQ_INT(p.l4, PKT_L4_OTHER);
    CHECK_EQ_INT(p.ip_proto, 1);
    CHECK_EQ_INT(p.ip_version, 4);

    uint8_t ip6[256];
    il = build_ipv6(ip6, 17, NULL, 0, l4, n);
    be16(ip6 + 4, 500); /* payload length beyond the frame */
    CHECK_EQ_INT(pkt_decode(DLT_RAW, ip6, il, il, &p, &why), WIRE_ERROR);
    CHECK(why && strstr(why, "IPv6 payload length"));
    uint8_t loop[16 * 8];
    memset(loop, 0, sizeof(loop));
    for (int i = 0; i < 16; i++)
        loop[i * 8] = 60; /* destination options forever */
    il = build_ipv6(ip6, 60, loop, sizeof(loop), l4, n);
    CHECK_EQ_INT(pkt_decode(DLT_RAW, ip6, il, il, &p, &why), WIRE_ERROR);
    CHECK(why && strstr(why, "too many"));

    /* a record claiming fewer wire bytes than captured is read as captured */
    il = v4_tcp_hello(ip);
    CHECK_EQ_INT(pkt_decode(DLT_RAW, ip, il, 10, &p, &why), 0);
    CHECK(!p.truncated);
    CHECK_EQ_INT(pkt_decode(DLT_RAW, ip, 0, 0, &p, &why), WIRE_ERROR);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)rng_state;
}

/* Random frames, and real frames with random bytes changed, in buffers of
 * exactly caplen bytes (so that the sanitizer sees any over-read): decode
 * returns a result whose pointers stay inside the frame. */
static void garbage_never_reads_out_of_bounds(void)
{
    int dlts[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW, DLT_IPV4, DLT_IPV6,
                  DLT_NULL, DLT_LOOP};
    uint8_t ip[256], f[300];
    size_t base = build_eth(f, NULL, 0, 0x0800, ip, v4_tcp_hello(ip));
    int decoded = 0, bad = 0;
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = rnd() % 120;
        uint8_t *b = malloc(len ? len : 1);
        if (iter % 2 && len <= base) {
            memcpy(b, f, len);
            for (int k = 0; k < 3 && len; k++)
                b[rnd() % len] = (uint8_t)rnd();
        } else {
            for (size_t i = 0; i < len; i++)
                b[i] = (uint8_t)rnd();
        }
        int dlt = dlts[rnd() % 8];
        size_t wire = len + (rnd() % 3 == 0 ? rnd() % 100 : 0);
        struct pkt p;
        const char *why = NULL;
        int r = pkt_decode(dlt, b, len, wire, &p, &why);
        if (r == 0) {
            decoded++;
            if (!(p.payload >= b && p.payload + p.payload_len <= b + len) ||
                p.payload_len > p.payload_wire_len || p.why != NULL ||
                (p.l4 != PKT_L4_TCP && p.l4 != PKT_L4_UDP))
                bad++;
        } else if (r != WIRE_ERROR || !why || why != p.why) {
            bad++;
        }
        free(b);
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(decoded > 0); /* the mutated real frames decode some of the time */
}

/* ---- files ---- */

static char tmp_path[64];

static const char *tmp_file(void)
{
    strcpy(tmp_path, "/tmp/test_pcapin_XXXXXX");
    int fd = mkstemp(tmp_path);
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
    return tmp_path;
}

static const int64_t t0 = 1700000000123456789ll; /* a time with all nine digits */

/* Write a pcap of n TCP frames 1 ms apart at nanosecond precision. */
static void write_pcap(const char *path, int n, int snaplen_cut)
{
    pcap_t *dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535, PCAP_TSTAMP_PRECISION_NANO);
    pcap_dumper_t *d = pcap_dump_open(dead, path);
    CHECK(d != NULL);
    if (!d) {
        pcap_close(dead);
        return;
    }
    uint8_t ip[256], f[300];
    size_t len = build_eth(f, NULL, 0, 0x0800, ip, v4_tcp_hello(ip));
    for (int i = 0; i < n; i++) {
        int64_t t = t0 + i * 1000000ll;
        struct pcap_pkthdr h;
        h.ts.tv_sec = t / 1000000000;
        h.ts.tv_usec = t % 1000000000;
        h.caplen = (bpf_u_int32)(len - (size_t)snaplen_cut);
        h.len = (bpf_u_int32)len;
        pcap_dump((u_char *)d, &h, f);
    }
    pcap_dump_close(d);
    pcap_close(dead);
}

static void read_pcap_with_nanosecond_timestamps(void)
{
    const char *path = tmp_file();
    write_pcap(path, 3, 0);
    struct pcapin in;
    CHECK_EQ_INT(pcapin_open(&in, path), 0);
    CHECK(strcmp(pcapin_format(&in), "pcap") == 0);
    CHECK(strcmp(pcapin_link_name(&in), "EN10MB") == 0);
    CHECK_EQ_INT(in.dlt, DLT_EN10MB);
    struct pkt p;
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(pcapin_next(&in, &p), 1);
        CHECK_EQ_INT(p.frame, i + 1);
        CHECK_EQ_INT(p.ts_ns, t0 + i * 1000000ll);
        CHECK_EQ_INT(p.l4, PKT_L4_TCP);
        CHECK_STR(p.payload, p.payload_len, "hello");
    }
    CHECK_EQ_INT(pcapin_next(&in, &p), 0);
    CHECK_EQ_INT(pcapin_next(&in, &p), 0);
    CHECK_EQ_INT(in.frames, 3);
    CHECK(strcmp(pcapin_error(&in), "") == 0);
    pcapin_close(&in);
    pcapin_close(&in); /* twice is harmless */

    /* a snap length shorter than the frames */
    write_pcap(path, 2, 3);
    CHECK_EQ_INT(pcapin_open(&in, path), 0);
    CHECK_EQ_INT(pcapin_next(&in, &p), 1);
    CHECK(p.truncated);
    CHECK_EQ_INT(p.payload_len, 2);
    CHECK_EQ_INT(p.payload_wire_len, 5);
    pcapin_close(&in);
    unlink(path);
}

/* pcapng blocks, little-endian, written by hand. */
static size_t put32(uint8_t *o, uint32_t v)
{
    o[0] = (uint8_t)v;
    o[1] = (uint8_t)(v >> 8);
    o[2] = (uint8_t)(v >> 16);
    o[3] = (uint8_t)(v >> 24);
    return 4;
}

static size_t pcapng_shb(uint8_t *o)
{
    size_t n = 0;
    n += put32(o + n, 0x0a0d0d0a);
    n += put32(o + n, 28);
    n += put32(o + n, 0x1a2b3c4d);
    o[n++] = 1, o[n++] = 0, o[n++] = 0, o[n++] = 0; /* version 1.0 */
    n += put32(o + n, 0xffffffff);
    n += put32(o + n, 0xffffffff); /* section length unknown */
    n += put32(o + n, 28);
    return n;
}

static size_t pcapng_idb(uint8_t *o, uint16_t linktype)
{
    size_t n = 0;
    n += put32(o + n, 1);
    n += put32(o + n, 32);
    o[n++] = (uint8_t)linktype, o[n++] = (uint8_t)(linktype >> 8), o[n++] = 0, o[n++] = 0;
    n += put32(o + n, 65535);
    o[n++] = 9, o[n++] = 0, o[n++] = 1, o[n++] = 0; /* if_tsresol, 1 byte */
    o[n++] = 9, o[n++] = 0, o[n++] = 0, o[n++] = 0; /* 10^-9 s */
    n += put32(o + n, 0);                           /* opt_endofopt */
    n += put32(o + n, 32);
    return n;
}

static size_t pcapng_epb(uint8_t *o, uint64_t ts, const uint8_t *data, uint32_t caplen, uint32_t len)
{
    uint32_t padded = (caplen + 3) & ~3u;
    uint32_t total = 32 + padded;
    size_t n = 0;
    n += put32(o + n, 6);
    n += put32(o + n, total);
    n += put32(o + n, 0);
    n += put32(o + n, (uint32_t)(ts >> 32));
    n += put32(o + n, (uint32_t)ts);
    n += put32(o + n, caplen);
    n += put32(o + n, len);
    memcpy(o + n, data, caplen);
    memset(o + n + caplen, 0, padded - caplen);
    n += padded;
    n += put32(o + n, total);
    return n;
}

static void read_pcapng_with_nanosecond_timestamps(void)
{
    static uint8_t file[4096];
    uint8_t ip[256], f[300];
    size_t il = v4_tcp_hello(ip);
    memset(f, 0, 20);
    be16(f, 0x0800);
    memcpy(f + 20, ip, il);
    size_t n = pcapng_shb(file);
    n += pcapng_idb(file + n, 276); /* LINKTYPE_LINUX_SLL2 */
    for (int i = 0; i < 4; i++)
        n += pcapng_epb(file + n, (uint64_t)(t0 + i * 7), f, (uint32_t)(20 + il), (uint32_t)(20 + il));
    const char *path = tmp_file();
    FILE *fp = fopen(path, "wb");
    CHECK(fp && fwrite(file, 1, n, fp) == n);
    if (fp)
        fclose(fp);

    struct pcapin in;
    CHECK_EQ_INT(pcapin_open(&in, path), 0);
    CHECK(strcmp(pcapin_format(&in), "pcapng") == 0);
    CHECK(strcmp(pcapin_link_name(&in), "LINUX_SLL2") == 0);
    struct pkt p;
    for (int i = 0; i < 4; i++) {
        CHECK_EQ_INT(pcapin_next(&in, &p), 1);
        CHECK_EQ_INT(p.frame, i + 1);
        CHECK_EQ_INT(p.ts_ns, t0 + i * 7);
        CHECK_EQ_INT(p.l4, PKT_L4_TCP);
        CHECK_STR(p.payload, p.payload_len, "hello");
    }
    CHECK_EQ_INT(pcapin_next(&in, &p), 0);
    pcapin_close(&in);

    /* the same bytes from memory, as the fuzzer opens them */
    FILE *mem = fmemopen(file, n, "rb");
    CHECK_EQ_INT(pcapin_open_stream(&in, mem, "memory"), 0);
    CHECK_EQ_INT(pcapin_next(&in, &p), 1);
    CHECK_EQ_INT(p.ts_ns, t0);
    pcapin_close(&in);

    /* cut in the middle of the third packet block */
    size_t first = 28 + 32;
    size_t block = (n - first) / 4;
    fp = fopen(path, "wb");
    CHECK(fp && fwrite(file, 1, first + 2 * block + 20, fp) == first + 2 * block + 20);
    if (fp)
        fclose(fp);
    CHECK_EQ_INT(pcapin_open(&in, path), 0);
    CHECK_EQ_INT(pcapin_next(&in, &p), 1);
    CHECK_EQ_INT(pcapin_next(&in, &p), 1);
    CHECK_EQ_INT(pcapin_next(&in, &p), WIRE_ERROR);
    const char *e = pcapin_error(&in);
    CHECK(strstr(e, path) != NULL);
    CHECK(strstr(e, "frame 3") != NULL);
    CHECK(strstr(e, "truncated") != NULL); /* libpcap's own words */
    pcapin_close(&in);
    unlink(path);
}

static void truncated_pcap_names_the_frame(void)
{
    const char *path = tmp_file();
    write_pcap(path, 5, 0);
    FILE *fp = fopen(path, "rb");
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fclose(fp);
    long rec = (size - 24) / 5;
    struct pcapin in;
    struct pkt p;
    /* cut inside frame 4's data, then inside frame 4's record header */
    long cuts[] = {24 + 3 * rec + 16 + 10, 24 + 3 * rec + 5};
    for (int k = 0; k < 2; k++) {
        CHECK_EQ_INT(truncate(path, cuts[k]), 0);
        CHECK_EQ_INT(pcapin_open(&in, path), 0);
        int got = 0, r;
        while ((r = pcapin_next(&in, &p)) == 1)
            got++;
        CHECK_EQ_INT(got, 3);
        CHECK_EQ_INT(r, WIRE_ERROR);
        const char *e = pcapin_error(&in);
        CHECK(strncmp(e, path, strlen(path)) == 0);
        CHECK(strstr(e, "frame 4") != NULL);
        CHECK(strstr(e, "truncated dump file") != NULL);
        pcapin_close(&in);
    }
    unlink(path);
}

static void open_errors_name_the_file(void)
{
    struct pcapin in;
    CHECK_EQ_INT(pcapin_open(&in, "/nonexistent/x.pcap"), WIRE_ERROR);
    CHECK(strstr(pcapin_error(&in), "/nonexistent/x.pcap: ") == pcapin_error(&in));
    CHECK(strstr(pcapin_error(&in), "No such file") != NULL);
    pcapin_close(&in);

    const char *path = tmp_file();
    FILE *fp = fopen(path, "wb");
    fputs("RTSP/1.0 200 OK\r\n\r\n", fp);
    fclose(fp);
    CHECK_EQ_INT(pcapin_open(&in, path), WIRE_ERROR);
    CHECK(strncmp(pcapin_error(&in), path, strlen(path)) == 0);
    CHECK(strstr(pcapin_error(&in), "not a pcap or pcapng file") != NULL);

    fp = fopen(path, "wb");
    fputs("\xd4", fp);
    fclose(fp);
    CHECK_EQ_INT(pcapin_open(&in, path), WIRE_ERROR);
    CHECK(strstr(pcapin_error(&in), "too short") != NULL);

    /* a pcap magic with a cut header: libpcap's message, named */
    fp = fopen(path, "wb");
    fwrite("\xd4\xc3\xb2\xa1\x02\x00", 1, 6, fp);
    fclose(fp);
    CHECK_EQ_INT(pcapin_open(&in, path), WIRE_ERROR);
    CHECK(strncmp(pcapin_error(&in), path, strlen(path)) == 0);
    CHECK(strlen(pcapin_error(&in)) > strlen(path) + 10);

    /* a link type that is not decoded */
    pcap_t *dead = pcap_open_dead(DLT_PPP, 65535);
    pcap_dumper_t *d = pcap_dump_open(dead, path);
    pcap_dump_close(d);
    pcap_close(dead);
    CHECK_EQ_INT(pcapin_open(&in, path), WIRE_ERROR);
    CHECK(strstr(pcapin_error(&in), "link type PPP") != NULL);
    CHECK(strncmp(pcapin_error(&in), path, strlen(path)) == 0);
    CHECK_EQ_INT(pcapin_next(&in, &(struct pkt){0}), WIRE_ERROR); /* not open */
    pcapin_close(&in);
    unlink(path);
}

int main(void)
{
    RUN(ethernet_ipv4_tcp);
    RUN(ethernet_ipv4_udp_and_padding);
    RUN(ethernet_padding_is_not_tcp_payload);
    RUN(vlan_single_double_and_too_many);
    RUN(linux_sll_and_sll2);
    RUN(raw_ipv4_ipv6_link_types);
    RUN(null_and_loop_both_byte_orders);
    RUN(ipv4_options_are_skipped);
    RUN(ipv4_total_length_zero_means_offload);
    RUN(ipv6_extension_headers_are_skipped);
    RUN(ipv4_fragments);
    RUN(ipv6_fragments);
    RUN(snaplen_cuts);
    RUN(malformed_headers_have_reasons);
    RUN(garbage_never_reads_out_of_bounds);
    RUN(read_pcap_with_nanosecond_timestamps);
    RUN(read_pcapng_with_nanosecond_timestamps);
    RUN(truncated_pcap_names_the_frame);
    RUN(open_errors_name_the_file);
    CHECK_DONE();
}
