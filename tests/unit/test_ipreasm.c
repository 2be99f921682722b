/* Unit tests of IP fragment reassembly (harness/analyze/ipreasm.h): IPv4
 * and IPv6 datagrams cut into fragments as a 1500-byte-MTU link cuts them,
 * fed in order, reversed, shuffled, duplicated, with overlapping or
 * contradicting fragments, with a fragment missing (last, middle), with a
 * fragment cut by the snap length; the caps (datagram count and bytes,
 * oldest evicted), the timeout in capture time, lengths above 65535, and
 * the key (protocol, addresses, identification). Fragments are real IP
 * packets decoded by pkt_decode, so pcapin's fragment fields are tested
 * on the way. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/ipreasm.h"
#include "check.h"
#include "wire.h"

#define FRAG_MAX 128     /* fragments per datagram in these tests */
#define PKT_MAX 1600     /* bytes of one fragment packet */
#define DGRAM_MAX 65536  /* bytes of one datagram */
#define SPORT 41000      /* UDP source port of the test datagrams */
#define DPORT 25000      /* UDP destination port */
#define SEC 1000000000LL /* ns */

static const uint8_t src4[4] = {10, 1, 0, 1};
static const uint8_t dst4[4] = {10, 1, 0, 2};
static const uint8_t src6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t dst6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

/* A datagram cut into fragments, each a raw IP packet. */
struct frags {
    uint8_t pkt[FRAG_MAX][PKT_MAX]; /* the fragment packets */
    size_t len[FRAG_MAX];           /* their lengths */
    size_t n;                       /* fragments used */
};

static struct frags *frags_new(void)
{
    struct frags *f = calloc(1, sizeof *f);
    if (!f)
        abort();
    return f;
}

static uint8_t pattern(size_t i, unsigned seed)
{
    return (uint8_t)(i * 131 + seed * 7 + (i >> 8));
}

/* A UDP datagram (header, then n payload bytes of the seed's pattern)
 * into out; returns its length. */
static size_t udp_datagram(uint8_t *out, size_t n, unsigned seed)
{
    wire_put_be16(out, SPORT);
    wire_put_be16(out + 2, DPORT);
    wire_put_be16(out + 4, (uint16_t)(8 + n));
    wire_put_be16(out + 6, 0);
    for (size_t i = 0; i < n; i++)
        out[8 + i] = pattern(i, seed);
    return 8 + n;
}

/* One IPv4 fragment: data at offset (a multiple of 8) of the datagram. */
static size_t ip4_frag(uint8_t *out, uint16_t id, uint8_t proto, size_t offset, bool more,
                       const uint8_t *data, size_t len)
{
    memset(out, 0, 20);
    out[0] = 0x45;
    wire_put_be16(out + 2, (uint16_t)(20 + len));
    wire_put_be16(out + 4, id);
    wire_put_be16(out + 6, (uint16_t)((more ? 0x2000 : 0) | (offset / 8)));
    out[8] = 64;
    out[9] = proto;
    memcpy(out + 12, src4, 4);
    memcpy(out + 16, dst4, 4);
    memcpy(out + 20, data, len);
    return 20 + len;
}

/* One IPv6 fragment: fixed header, fragment header (next header nh). */
static size_t ip6_frag(uint8_t *out, uint32_t id, uint8_t nh, size_t offset, bool more,
                       const uint8_t *data, size_t len)
{
    memset(out, 0, 48);
    out[0] = 0x60;
    wire_put_be16(out + 4, (uint16_t)(8 + len));
    out[6] = 44;
    out[7] = 64;
    memcpy(out + 8, src6, 16);
    memcpy(out + 24, dst6, 16);
    out[40] = nh;
    wire_put_be16(out + 42, (uint16_t)(offset | (more ? 1 : 0)));
    wire_put_be32(out + 44, id);
    memcpy(out + 48, data, len);
    return 48 + len;
}

/* Cut datagram d (len bytes of L4) as a link of that MTU does. */
static void cut4(struct frags *f, const uint8_t *d, size_t len, uint16_t id, uint8_t proto, size_t mtu)
{
    size_t chunk = (mtu - 20) & ~(size_t)7;
    f->n = 0;
    for (size_t off = 0; off < len && f->n < FRAG_MAX; off += chunk, f->n++) {
        size_t k = len - off < chunk ? len - off : chunk;
        f->len[f->n] = ip4_frag(f->pkt[f->n], id, proto, off, off + k < len, d + off, k);
    }
}

static void cut6(struct frags *f, const uint8_t *d, size_t len, uint32_t id, uint8_t nh, size_t mtu)
{
    size_t chunk = (mtu - 48) & ~(size_t)7;
    f->n = 0;
    for (size_t off = 0; off < len && f->n < FRAG_MAX; off += chunk, f->n++) {
        size_t k = len - off < chunk ? len - off : chunk;
        f->len[f->n] = ip6_frag(f->pkt[f->n], id, nh, off, off + k < len, d + off, k);
    }
}

static uint64_t frame_no; /* frame number of the last fragment fed */

/* Decode one fragment packet (caplen bytes of len captured) and feed it. */
static int feed_cut(struct ipreasm *r, const uint8_t *ip, size_t len, size_t caplen, int64_t ts_ns,
                    struct pkt *out)
{
    struct pkt p;
    pkt_decode(DLT_RAW, ip, caplen, len, &p, NULL);
    CHECK(p.fragment);
    p.frame = ++frame_no;
    p.ts_ns = ts_ns;
    return ipreasm_fragment(r, &p, out);
}

static int feed(struct ipreasm *r, const uint8_t *ip, size_t len, int64_t ts_ns, struct pkt *out)
{
    return feed_cut(r, ip, len, len, ts_ns, out);
}

/* Feed f's fragments in the order given (n indexes), 1 ms apart from t0.
 * Returns how many datagrams completed; *at is the position in order of
 * the last completion (SIZE_MAX when none). */
static int feed_order(struct ipreasm *r, const struct frags *f, const size_t *order, size_t n,
                      int64_t t0, struct pkt *out, size_t *at)
{
    int done = 0;
    *at = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        struct pkt o;
        if (feed(r, f->pkt[order[i]], f->len[order[i]], t0 + (int64_t)i * 1000000, &o) == 1) {
            done++;
            *at = i;
            *out = o;
        }
    }
    return done;
}

/* A small deterministic generator for shuffles. */
static uint32_t rng_next(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static void shuffle(size_t *order, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = rng_next(&seed) % i;
        size_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
}

/* out is the UDP datagram udp_datagram(n, seed) made, whole. */
static void check_udp(const struct pkt *out, size_t n, unsigned seed)
{
    CHECK_EQ_INT(out->l4, PKT_L4_UDP);
    CHECK(!out->fragment);
    CHECK(!out->truncated);
    CHECK(out->why == NULL);
    CHECK_EQ_INT(out->ip_proto, 17);
    CHECK_EQ_INT(out->src.port, SPORT);
    CHECK_EQ_INT(out->dst.port, DPORT);
    CHECK_EQ_INT(out->payload_len, n);
    CHECK_EQ_INT(out->payload_wire_len, n);
    size_t bad = 0;
    for (size_t i = 0; i < out->payload_len && i < n; i++)
        bad += out->payload[i] != pattern(i, seed);
    CHECK_EQ_INT(bad, 0);
}

static struct ipreasm *new_reasm(size_t max_datagrams, size_t max_bytes)
{
    struct ipreasm_opts o;
    ipreasm_opts_default(&o);
    if (max_datagrams)
        o.max_datagrams = max_datagrams;
    if (max_bytes)
        o.max_bytes = max_bytes;
    const char *why = NULL;
    struct ipreasm *r = ipreasm_new(&o, &why);
    CHECK(r != NULL);
    if (!r)
        abort();
    return r;
}

/* ---- cases ---- */

/* What pkt_decode gives ipreasm: identification, offset, MF/M, the data. */
static void pcapin_fragment_fields(void)
{
    uint8_t ip[PKT_MAX], data[64];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)i;
    struct pkt p;
    size_t n = ip4_frag(ip, 0xa1b2, 17, 1480, true, data, 64);
    pkt_decode(DLT_RAW, ip, n - 10, n, &p, NULL);
    CHECK(p.fragment);
    CHECK_EQ_INT(p.frag.id, 0xa1b2);
    CHECK_EQ_INT(p.frag.offset, 1480);
    CHECK(p.frag.more);
    CHECK_EQ_INT(p.frag.proto, 17);
    CHECK_EQ_INT(p.frag.hdr_len, 20);
    CHECK(p.frag.data == ip + 20);
    CHECK_EQ_INT(p.frag.data_len, 54);
    CHECK_EQ_INT(p.frag.data_wire_len, 64);
    n = ip6_frag(ip, 0xdeadbeef, 60, 2896, false, data, 40);
    pkt_decode(DLT_RAW, ip, n, n, &p, NULL);
    CHECK(p.fragment);
    CHECK_EQ_INT(p.frag.id, 0xdeadbeef);
    CHECK_EQ_INT(p.frag.offset, 2896);
    CHECK(!p.frag.more);
    CHECK_EQ_INT(p.frag.proto, 60);
    CHECK_EQ_INT(p.frag.hdr_len, 0);
    CHECK(p.frag.data == ip + 48);
    CHECK_EQ_INT(p.frag.data_len, 40);
    CHECK_EQ_INT(p.frag.data_wire_len, 40);
}

static void in_order_v4(void)
{
    static uint8_t d[DGRAM_MAX];
    struct frags *f = frags_new();
    size_t len = udp_datagram(d, 4000, 1);
    cut4(f, d, len, 0x1234, 17, 1500);
    CHECK_EQ_INT(f->n, 3);
    struct ipreasm *r = new_reasm(0, 0);
    struct pkt out;
    uint64_t first = frame_no + 1;
    CHECK_EQ_INT(feed(r, f->pkt[0], f->len[0], 5 * SEC, &out), 0);
    CHECK_EQ_INT(feed(r, f->pkt[1], f->len[1], 5 * SEC + 10, &out), 0);
    CHECK_EQ_INT(ipreasm_stats(r)->active, 1);
    CHECK(ipreasm_stats(r)->bytes > 2960);
    CHECK_EQ_INT(feed(r, f->pkt[2], f->len[2], 5 * SEC + 20, &out), 1);
    check_udp(&out, 4000, 1);
    /* the receiver has it when the last fragment came */
    CHECK_EQ_INT(out.frame, first + 2);
    CHECK_EQ_INT(out.ts_ns, 5 * SEC + 20);
    CHECK_EQ_INT(out.ip_version, 4);
    CHECK(memcmp(out.src.addr, src4, 4) == 0 && memcmp(out.dst.addr, dst4, 4) == 0);
    const struct ipreasm_stats *st = ipreasm_stats(r);
    CHECK_EQ_INT(st->fragments, 3);
    CHECK_EQ_INT(st->reassembled, 1);
    CHECK_EQ_INT(st->active, 0);
    CHECK_EQ_INT(st->bytes, 0);
    ipreasm_finish(r);
    CHECK_EQ_INT(st->incomplete, 0);
    ipreasm_free(r);
    free(f);
}

static void reversed_v4(void)
{
    static uint8_t d[DGRAM_MAX];
    struct frags *f = frags_new();
    size_t len = udp_datagram(d, 9000, 2);
    cut4(f, d, len, 7, 17, 1500);
    CHECK_EQ_INT(f->n, 7);
    size_t order[FRAG_MAX];
    for (size_t i = 0; i < f->n; i++)
        order[i] = f->n - 1 - i;
    struct ipreasm *r = new_reasm(0, 0);
    struct pkt out;
    size_t at;
    uint64_t first = frame_no + 1;
    CHECK_EQ_INT(feed_order(r, f, order, f->n, SEC, &out, &at), 1);
    CHECK_EQ_INT(at, f->n - 1);
    check_udp(&out, 9000, 2);
    CHECK_EQ_INT(out.frame, first + f->n - 1); /* the first fragment came last */
    ipreasm_finish(r);
    CHECK_EQ_INT(ipreasm_stats(r)->incomplete, 0);
    ipreasm_free(r);
    free(f);
}

/* The largest lab frame (60 KB) in 41 fragments, in many orders. */
static void shuffled_v4(void)
{
    static uint8_t d[DGRAM_MAX];
    struct frags *f = frags_new();
    size_t len = udp_datagram(d, 60000, 3);
    cut4(f, d, len, 0xbeef, 17, 1500);
    CHECK_EQ_INT(f->n, 41);
    struct ipreasm *r = new_reasm(0, 0);
    for (uint32_t seed = 1; seed <= 30; seed++) {
        size_t order[FRAG_MAX], at;
        shuffle(order, f->n, seed);
        struct pkt out;
        uint64_t first = frame_no + 1;
        CHECK_EQ_INT(feed_order(r, f, order, f->n, (int64_t)seed * SEC, &out, &at), 1);
        CHECK_EQ_INT(at, f->n - 1);
        check_udp(&out, 60000, 3);
        CHECK_EQ_INT(out.frame, first + f->n - 1);
        CHECK_EQ_INT(out.ts_ns, (int64_t)seed * SEC + (int64_t)(f->n - 1) * 1000000);
    }
    const struct ipreasm_stats *st = ipreasm_stats(r);
    CHECK_EQ_INT(st->reassembled, 30);
    CHECK_EQ_INT(st->duplicates, 0);
    CHECK_EQ_INT(st->active, 0);
    CHECK_EQ_INT(st->bytes, 0);
    CHECK(st->bytes_peak >= 60000 && st->bytes_peak < 2 * 65536 + 4096);
    ipreasm_finish(r);
    CHECK_EQ_INT(st->incomplete, 0);
    ipreasm_free(r);
    free(f);
}

static void ipv6_in_order_and_shuffled(void)
{
    static uint8_t d[DGRAM_MAX];
    struct frags *f = frags_new();
    size_t len = udp_datagram(d, 30000, 4);
    cut6(f, d, len, 0xdeadbeef, 17, 1500);
    CHECK_EQ_INT(f->n, 21);
    struct ipreasm *r = new_reasm(0, 0);
    size_t order[FRAG_MAX], at;
    struct pkt out;
    for (uint32_t seed = 0; seed < 10; seed++) {
        if (seed == 0)
            for (size_t i = 0; i < f->n; i++)
                order[i] = i;
        else
            shuffle(order, f->n, seed);
        CHECK_EQ_INT(feed_order(r, f, order, f->n, SEC, &out, &at), 1);
        CHECK_EQ_INT(at, f->n - 1);
        check_udp(&out, 30000, 4);
        CHECK_EQ_INT(out.ip_version, 6);
        CHECK(memcmp(out.src.addr, src6, 16) == 0 && memcmp(out.dst.addr, dst6, 16) == 0);
    }
    CHECK_EQ_INT(ipreasm_stats(r)->reassembled, 10);
    ipreasm_finish(r);
    CHECK_EQ_INT(ipreasm_stats(r)->incomplete, 0);
    ipreasm_free(r);
    free(f);
}

/* Every fragment twice: one datagram, and copies counted as duplicates,
 * also the copy of the completing fragment that comes after it. */
static void duplicated(void)
{
    static uint8_t d[DGRAM_MAX];
    struct frags *f = frags_new();
    size_t len = udp_datagram(d, 20000, 5);
    cut4(f, d, len, 99, 17, 1500);
    size_t n = f->n, order[FRAG_MAX], twice[2 * FRAG_MAX], at;
    shuffle(order, n, 77);
    for (size_t i = 0; i < n; i++)
        twice[2 * i] = twice[2 * i + 1] = order[i];
    struct ipreasm *r = new_reasm(0, 0);
    struct pkt out;
    CHECK_EQ_INT(feed_order(r, f, twice, 2 * n, SEC, &out, &at), 1);
    CHECK_EQ_INT(at, 2 * n - 2); /* the first copy of the last fragment completed it */
    const struct ipreasm_stats *st = ipreasm_stats(r);
    CHECK_EQ_INT(st->reassembled, 1);
    CHECK_EQ_INT(st->duplicates, n - 1);
    CHECK_EQ_INT(st->active, 1); /* the late copy started a reassembly, as in a receiver */
    ipreasm_finish(r);
    CHECK_EQ_INT(st->incomplete, 0); /* ... which is a late duplicate, not a lost datagram */
    CHECK_EQ_INT(st->duplicates, n);
    ipreasm_free(r);
    free(f);
}

/* A copy with other bytes: the bytes received first are kept. */
static void duplicate_keeps_first_bytes(void)
{
    static uint8_t d[DGRAM_MAX];
    struct frags *f = frags_new();
    size_t len = udp_datagram(d, 4000, 6);
    cut4(f, d, len, 5, 17, 1500);
    struct ipreasm *r = new_reasm(0, 0);
    struct pkt out;
    uint8_t other[PKT_MAX];
    memcpy(other, f->pkt[1], f->len[1]);
    memset(other + 20, 0xee, f->len[1] - 20);
    CHECK_EQ_INT(feed(r, f->pkt[1], f->len[1], SEC, &out), 0);
    CHECK_EQ_INT(feed(r, other, f->len[1], SEC, &out), 0);
    CHECK_EQ_INT(feed(r, f->pkt[0], f->len[0], SEC, &out), 0);
    CHECK_EQ_INT(feed(r, f->pkt[2], f->len[2], SEC, &out), 1);
    check_udp(&out, 4000, 6);
    CHECK_EQ_INT(ipreasm_stats(r)->duplicates, 1);
    ipreasm_free(r);
    free(f);
}

/* A fragment partly over bytes received discards the datagram (RFC 5722,
 * for IPv4 as well); its other fragments are absorbed, never delivered. */
static void overlapping(void)
{
    static uint8_t d[DGRAM_MAX];
    struct frags *f = frags_new();
    size_t len = udp_datagram(d, 4000, 7);
    cut4(f, d, len, 11, 17, 1500);
    struct ipreasm *r = new_reasm(0, 0);
    struct pkt out;
    uint8_t over[PKT_MAX];
    /* offset 1000, 1000 bytes: over the end of fragment 0 and into fragment 1 */
    size_t olen = ip4_frag(over, 11, 17, 1000, true, d + 1000, 1000);
    CHECK_EQ_INT(feed(r, f->pkt[0], f->len[0], SEC, &out), 0);
    CHECK_EQ_INT(feed(r, over, olen, SEC, &out), 0);
    const struct ipreasm_stats *st = ipreasm_stats(r);
    CHECK_EQ_INT(st->overlapping, 1);
    for (size_t i = 0; i < f->n; i++)
        CHECK_EQ_INT(feed(r, f->pkt[i], f->len[i], SEC, &out), 0);
    CHECK_EQ_INT(st->absorbed, f->n);
    CHECK_EQ_INT(st->reassembled, 0);
    CHECK_EQ_INT(st->active, 1); /* the entry stays to absorb, its buffer is gone */
    CHECK(st->bytes < 4096);
    ipreasm_finish(r);
    CHECK_EQ_INT(st->incomplete, 0); /* counted once, as discarded */
    /* overlapping fragment first, the real ones after: the same */
    CHECK_EQ_INT(feed(r, over, olen, SEC, &out), 0);
    for (size_t i = 0; i < f->n; i++)
        CHECK_EQ_INT(feed(r, f->pkt[i], f->len[i], SEC, &out), 0);
    CHECK_EQ_INT(st->overlapping, 2);
    CHECK_EQ_INT(st->reassembled, 0);
    ipreasm_free(r);
    free(f);
}

/* Two different ends, or data beyond the end: discarded as overlapping. */
static void contradicting_ends(void)
{
    static uint8_t d[DGRAM_MAX];
    struct ipreasm *r = new_reasm(0, 0);
    struct pkt out;
    uint8_t a[PKT_MAX], b[PKT_MAX];
    udp_datagram(d, 3000, 8);
    size_t la = ip4_frag(a, 21, 17, 1480, false, d + 1480, 500); /* ends at 1980 */
    size_t lb = ip4_frag(b, 21, 17, 1480, false, d + 1480, 600); /* ends at 2080 */
    CHECK_EQ_INT(feed(r, a, la, SEC, &out), 0);
    CHECK_EQ_INT(feed(r, b, lb, SEC, &out), 0);
    CHECK_EQ_INT(ipreasm_stats(r)->overlapping, 1);
    /* a non-last fragment beyond the end */
    la = ip4_frag(a, 23, 17, 800, false, d + 800, 800);
    lb = ip4_frag(b, 23, 17, 1600, true, d + 1600, 800);
    CHECK_EQ_INT(feed(r, a, la, SEC, &out), 0);
    CHECK_EQ_INT(feed(r, b, lb, SEC, &out), 0);
    CHECK_EQ_INT(ipreasm_stats(r)->overlapping, 2);
    /* a last fragment ending before bytes already received */
    la = ip4_frag(a, 24, 17, 1600, true, d + 1600, 800);
    lb = ip4_frag(b, 24, 17, 800, false, d + 800, 400);
    CHECK_EQ_INT(feed(r, a, la, SEC, &out), 0);
    CHECK_EQ_INT(feed(r, b, lb, SEC, &out), 0);
    CHECK_EQ_INT(ipreasm_stats(r)->overlapping, 3);
    CHECK_EQ_INT(ipreasm_stats(r)->reassembled, 0);
    ipreasm_free(r);
}

static void missing_last(void)
{
    static uint8_t d[DGRAM_MAX];
    struct frags *f = frags_new();
    size_t len = udp_datagram(d, 12000, 9);
    cut4(f, d, len, 31, 17, 1500);
    size_t order[FRAG_MAX], at;
    shuffle(order, f->n, 5);
    size_t kept = 0;
    for (size_t i = 0; i < f->n; i++)
        if (order[i] != f->n - 1)
            order[kept++] = order[i];
    struct ipreasm *r = new_reasm(0, 0);
    struct pkt out;
    CHECK_EQ_INT(feed_order(r, f, order, kept, SEC, &out, &at), 0);
    const struct ipreasm_stats *st = ipreasm_stats(r);
    CHECK_EQ_INT(st->active, 1);
    ipreasm_finish(r);
    CHECK_EQ_INT(st->reassembled, 0);
    CHECK_EQ_INT(st->incomplete, 1);
    CHECK_EQ_INT(st->unfinished, 1);
    CHECK_EQ_INT(st->active, 0);
    CHECK_EQ_INT(st->bytes, 0);
    ipreasm_free(r);
    free(f);
}

static void missing_middle(void)
{
    static uint8_t d[DGRAM_MAX];
    struct frags *f = frags_new();
    size_t len = udp_datagram(d, 12000, 10);
    cut6(f, d, len, 32, 17, 1500);
    size_t order[FRAG_MAX], at, kept = 0;
    for (size_t i = 0; i < f->n; i++)
        if (i != 4)
            order[kept++] = i;
    struct ipreasm *r = new_reasm(0, 0);
    struct pkt out;
    CHECK_EQ_INT(feed_order(r, f, order, kept, SEC, &out, &at), 0);
    /* the same datagram again (a retransmission with a new id) is whole */
    cut6(f, d, len, 33, 17, 1500);
    for (size_t i = 0; i < f->n; i++)
        order[i] = i;
    CHECK_EQ_INT(feed_order(r, f, order, f->n, SEC, &out, &at), 1);
    check_udp(&out, 12000, 10);
    ipreasm_finish(r);
    const struct ipreasm_stats *st = ipreasm_stats(r);
    CHECK_EQ_INT(st->reassembled, 1);
    CHECK_EQ_INT(st->incomplete, 1);
    CHECK_EQ_INT(st->unfinished, 1);
    ipreasm_free(r);
    free(f);
}

/* max_datagrams: a new datagram pushes the oldest out; its fragments
 * that come later start anew and never make it whole. */
static void eviction_by_count(void)
{
    static uint8_t d[DGRAM_MAX];
    struct frags *f[3] = {frags_new(), frags_new(), frags_new()};
    size_t len = udp_datagram(d, 4000, 11);
    for (int k = 0; k < 3; k++)
        cut4(f[k], d, len, (uint16_t)(100 + k), 17, 1500);
    struct ipreasm *r = new_reasm(2, 0);
    struct pkt out;
    for (int k = 0; k < 3; k++)
        CHECK_EQ_INT(feed(r, f[k]->pkt[0], f[k]->len[0], SEC, &out), 0);
    const struct ipreasm_stats *st = ipreasm_stats(r);
    CHECK_EQ_INT(st->evicted, 1);
    CHECK_EQ_INT(st->incomplete, 1);
    CHECK_EQ_INT(st->active, 2);
    int whole = 0;
    for (int k = 1; k < 3; k++)
        for (size_t i = 1; i < f[k]->n; i++)
            if (feed(r, f[k]->pkt[i], f[k]->len[i], SEC, &out) == 1) {
                whole++;
                check_udp(&out, 4000, 11);
            }
    CHECK_EQ_INT(whole, 2);
    for (size_t i = 1; i < f[0]->n; i++)
        CHECK_EQ_INT(feed(r, f[0]->pkt[i], f[0]->len[i], SEC, &out), 0);
    ipreasm_finish(r);
    CHECK_EQ_INT(st->reassembled, 2);
    CHECK_EQ_INT(st->incomplete, 2);
    CHECK_EQ_INT(st->evicted, 1);
    CHECK_EQ_INT(st->unfinished, 1);
    ipreasm_free(r);
    for (int k = 0; k < 3; k++)
        free(f[k]);
}

/* max_bytes: 60 KB datagrams whose last fragment came first (buffers of
 * the whole size); the third pushes the oldest out, never above the cap. */
static void eviction_by_bytes(void)
{
    static uint8_t d[DGRAM_MAX];
    struct frags *f = frags_new();
    size_t len = udp_datagram(d, 60000, 12);
    struct ipreasm *r = new_reasm(0, IPREASM_MIN_BYTES);
    const struct ipreasm_stats *st = ipreasm_stats(r);
    struct pkt out;
    for (uint16_t k = 0; k < 3; k++) {
        cut4(f, d, len, (uint16_t)(200 + k), 17, 1500);
        CHECK_EQ_INT(feed(r, f->pkt[f->n - 1], f->len[f->n - 1], SEC, &out), 0);
        CHECK(st->bytes <= IPREASM_MIN_BYTES);
    }
    CHECK_EQ_INT(st->evicted, 1);
    CHECK_EQ_INT(st->active, 2);
    /* the newest completes */
    for (size_t i = 0; i + 1 < f->n; i++) {
        int rc = feed(r, f->pkt[i], f->len[i], SEC, &out);
        CHECK_EQ_INT(rc, i + 2 == f->n ? 1 : 0);
        CHECK(st->bytes <= IPREASM_MIN_BYTES);
    }
    check_udp(&out, 60000, 12);
    CHECK(st->bytes_peak <= IPREASM_MIN_BYTES);
    ipreasm_finish(r);
    CHECK_EQ_INT(st->incomplete, 2);
    CHECK_EQ_INT(st->evicted, 1);
    ipreasm_free(r);
    free(f);
}

/* 30 s of capture time after its first fragment a datagram is given up. */
static void timeout(void)
{
    static uint8_t d[DGRAM_MAX];
    struct frags *f = frags_new();
    size_t len = udp_datagram(d, 4000, 13);
    cut4(f, d, len, 300, 17, 1500);
    struct ipreasm *r = new_reasm(0, 0);
    const struct ipreasm_stats *st = ipreasm_stats(r);
    struct pkt out;
    int64_t t0 = 1700000000LL * SEC;
    /* just within the timeout: whole */
    CHECK_EQ_INT(feed(r, f->pkt[0], f->len[0], t0, &out), 0);
    CHECK_EQ_INT(feed(r, f->pkt[1], f->len[1], t0 + 10 * SEC, &out), 0);
    CHECK_EQ_INT(feed(r, f->pkt[2], f->len[2], t0 + 30 * SEC, &out), 1);
    check_udp(&out, 4000, 13);
    /* beyond it: the last fragment starts anew */
    cut4(f, d, len, 302, 17, 1500);
    CHECK_EQ_INT(feed(r, f->pkt[0], f->len[0], t0 + 40 * SEC, &out), 0);
    CHECK_EQ_INT(feed(r, f->pkt[1], f->len[1], t0 + 50 * SEC, &out), 0);
    CHECK_EQ_INT(feed(r, f->pkt[2], f->len[2], t0 + 70 * SEC + 1, &out), 0);
    CHECK_EQ_INT(st->timed_out, 1);
    CHECK_EQ_INT(st->incomplete, 1);
    CHECK_EQ_INT(st->active, 1);
    /* a frame stamped earlier does not move capture time back */
    cut4(f, d, len, 301, 17, 1500);
    CHECK_EQ_INT(feed(r, f->pkt[0], f->len[0], t0, &out), 0);
    CHECK_EQ_INT(feed(r, f->pkt[1], f->len[1], t0 + 101 * SEC, &out), 0);
    CHECK_EQ_INT(st->timed_out, 3); /* both waiting ones: 302's last fragment and 301 */
    ipreasm_finish(r);
    CHECK_EQ_INT(st->incomplete, 4);
    CHECK_EQ_INT(st->unfinished, 1);
    CHECK_EQ_INT(st->reassembled, 1);
    ipreasm_free(r);
    free(f);
}

/* Lengths above 65535 are counted and discarded; exactly 65535 is whole. */
static void oversize(void)
{
    static uint8_t d[DGRAM_MAX];
    struct ipreasm *r = new_reasm(0, 0);
    const struct ipreasm_stats *st = ipreasm_stats(r);
    struct pkt out;
    uint8_t a[PKT_MAX];
    udp_datagram(d, 2000, 14);
    /* IPv4: the largest offset with 100 bytes: 20 + 65528 + 100 */
    size_t la = ip4_frag(a, 400, 17, 8191 * 8, false, d, 100);
    CHECK_EQ_INT(feed(r, a, la, SEC, &out), 0);
    CHECK_EQ_INT(st->oversize, 1);
    la = ip4_frag(a, 400, 17, 0, true, d, 1480);
    CHECK_EQ_INT(feed(r, a, la, SEC, &out), 0);
    CHECK_EQ_INT(st->absorbed, 1);
    /* 8 bytes too many: 20 + 65520 */
    la = ip4_frag(a, 401, 17, 65512, false, d, 8);
    CHECK_EQ_INT(feed(r, a, la, SEC, &out), 0);
    CHECK_EQ_INT(st->oversize, 2);
    /* IPv6: data ending beyond 65535 */
    la = ip6_frag(a, 402, 17, 65528, false, d, 16);
    CHECK_EQ_INT(feed(r, a, la, SEC, &out), 0);
    CHECK_EQ_INT(st->oversize, 3);
    ipreasm_finish(r);
    CHECK_EQ_INT(st->incomplete, 0);
    CHECK_EQ_INT(st->reassembled, 0);
    /* the largest datagram there is: 20 + 8 + 65507 */
    struct frags *f = frags_new();
    size_t len = udp_datagram(d, 65507, 15);
    cut4(f, d, len, 403, 17, 1500);
    size_t order[FRAG_MAX], at;
    shuffle(order, f->n, 9);
    CHECK_EQ_INT(feed_order(r, f, order, f->n, SEC, &out, &at), 1);
    check_udp(&out, 65507, 15);
    CHECK_EQ_INT(st->oversize, 3);
    ipreasm_free(r);
    free(f);
}

/* IPv4 non-last fragments not a multiple of 8 are cut down to one; IPv6
 * ones are ignored; empty fragments are ignored. */
static void odd_lengths(void)
{
    static uint8_t d[DGRAM_MAX];
    struct ipreasm *r = new_reasm(0, 0);
    const struct ipreasm_stats *st = ipreasm_stats(r);
    struct pkt out;
    uint8_t a[PKT_MAX], b[PKT_MAX];
    size_t len = udp_datagram(d, 1992, 16); /* 2000 bytes */
    size_t la = ip4_frag(a, 500, 17, 0, true, d, 1003); /* 1000 kept */
    size_t lb = ip4_frag(b, 500, 17, 1000, false, d + 1000, len - 1000);
    CHECK_EQ_INT(feed(r, a, la, SEC, &out), 0);
    CHECK_EQ_INT(feed(r, b, lb, SEC, &out), 1);
    check_udp(&out, 1992, 16);
    la = ip6_frag(a, 501, 17, 0, true, d, 1003);
    CHECK_EQ_INT(feed(r, a, la, SEC, &out), 0);
    CHECK_EQ_INT(st->malformed, 1);
    CHECK_EQ_INT(st->active, 0);
    la = ip4_frag(a, 502, 17, 800, true, d, 0);
    CHECK_EQ_INT(feed(r, a, la, SEC, &out), 0);
    la = ip4_frag(a, 502, 17, 800, true, d, 7); /* cut down to nothing */
    CHECK_EQ_INT(feed(r, a, la, SEC, &out), 0);
    CHECK_EQ_INT(st->malformed, 3);
    CHECK_EQ_INT(st->active, 0);
    ipreasm_free(r);
}

/* The key: IPv4 protocol, addresses and id; IPv6 addresses and id, the
 * protocol from the offset-0 fragment. */
static void keys(void)
{
    static uint8_t d[DGRAM_MAX];
    struct frags *fu = frags_new(), *fx = frags_new();
    size_t len = udp_datagram(d, 3000, 17);
    cut4(fu, d, len, 600, 17, 1500);
    cut4(fx, d, len, 600, 253, 1500); /* same id, another protocol */
    /* another source, same id and protocol */
    struct frags *fs = frags_new();
    cut4(fs, d, len, 600, 17, 1500);
    for (size_t i = 0; i < fs->n; i++)
        fs->pkt[i][15] = 9;
    struct ipreasm *r = new_reasm(0, 0);
    struct pkt out;
    int whole = 0, udp = 0, other = 0;
    for (size_t i = 0; i < fu->n; i++) {
        const struct frags *all[3] = {fu, fx, fs};
        for (int k = 0; k < 3; k++)
            if (feed(r, all[k]->pkt[i], all[k]->len[i], SEC, &out) == 1) {
                whole++;
                if (out.l4 == PKT_L4_UDP) {
                    udp++;
                    check_udp(&out, 3000, 17);
                } else {
                    other++;
                    CHECK_EQ_INT(out.ip_proto, 253);
                    CHECK(out.why != NULL);
                }
            }
    }
    CHECK_EQ_INT(whole, 3);
    CHECK_EQ_INT(udp, 2);
    CHECK_EQ_INT(other, 1);
    /* IPv6: the later fragments' next header does not matter */
    struct frags *f6 = frags_new();
    cut6(f6, d, len, 601, 17, 1500);
    for (size_t i = 1; i < f6->n; i++)
        f6->pkt[i][40] = 60;
    size_t order[FRAG_MAX], at;
    for (size_t i = 0; i < f6->n; i++)
        order[i] = f6->n - 1 - i;
    CHECK_EQ_INT(feed_order(r, f6, order, f6->n, SEC, &out, &at), 1);
    check_udp(&out, 3000, 17);
    ipreasm_finish(r);
    CHECK_EQ_INT(ipreasm_stats(r)->incomplete, 0);
    ipreasm_free(r);
    free(fu);
    free(fx);
    free(fs);
    free(f6);
}

/* A fragment cut by the snap length: the datagram is whole for the
 * receiver, the capture holds it up to the cut. */
static void snaplen_cut(void)
{
    static uint8_t d[DGRAM_MAX];
    struct frags *f = frags_new();
    size_t len = udp_datagram(d, 4000, 18);
    cut4(f, d, len, 700, 17, 1500);
    struct ipreasm *r = new_reasm(0, 0);
    struct pkt out;
    CHECK_EQ_INT(feed(r, f->pkt[0], f->len[0], SEC, &out), 0);
    CHECK_EQ_INT(feed_cut(r, f->pkt[1], f->len[1], 20 + 100, SEC, &out), 0);
    CHECK_EQ_INT(feed(r, f->pkt[2], f->len[2], SEC, &out), 1);
    CHECK_EQ_INT(out.l4, PKT_L4_UDP);
    CHECK(out.truncated);
    CHECK_EQ_INT(out.payload_wire_len, 4000);
    CHECK_EQ_INT(out.payload_len, 1480 + 100 - 8);
    size_t bad = 0;
    for (size_t i = 0; i < out.payload_len; i++)
        bad += out.payload[i] != pattern(i, 18);
    CHECK_EQ_INT(bad, 0);
    ipreasm_free(r);
    free(f);
}

/* TCP in fragments comes out as a TCP segment. */
static void tcp_segment(void)
{
    static uint8_t d[DGRAM_MAX];
    memset(d, 0, 20);
    wire_put_be16(d, 554);
    wire_put_be16(d + 2, 40000);
    wire_put_be32(d + 4, 1000);
    d[12] = 5 << 4;
    d[13] = PKT_TCP_ACK | PKT_TCP_PSH;
    for (size_t i = 0; i < 3000; i++)
        d[20 + i] = pattern(i, 19);
    struct frags *f = frags_new();
    cut4(f, d, 3020, 800, 6, 1500);
    struct ipreasm *r = new_reasm(0, 0);
    size_t order[FRAG_MAX], at;
    shuffle(order, f->n, 3);
    struct pkt out;
    CHECK_EQ_INT(feed_order(r, f, order, f->n, SEC, &out, &at), 1);
    CHECK_EQ_INT(out.l4, PKT_L4_TCP);
    CHECK_EQ_INT(out.tcp_seq, 1000);
    CHECK_EQ_INT(out.src.port, 554);
    CHECK_EQ_INT(out.payload_len, 3000);
    CHECK(out.payload[2999] == pattern(2999, 19));
    ipreasm_free(r);
    free(f);
}

/* Packets that are not fragments are left alone; bad limits refused. */
static void not_fragments_and_bad_options(void)
{
    struct ipreasm *r = new_reasm(0, 0);
    struct pkt p, out;
    memset(&p, 0, sizeof p);
    p.ip_version = 4;
    p.l4 = PKT_L4_UDP;
    CHECK_EQ_INT(ipreasm_fragment(r, &p, &out), 0);
    CHECK_EQ_INT(ipreasm_stats(r)->fragments, 0);
    ipreasm_free(r);
    ipreasm_free(NULL);

    struct ipreasm_opts o;
    const char *why = NULL;
    ipreasm_opts_default(&o);
    o.max_bytes = 1000;
    CHECK(ipreasm_new(&o, &why) == NULL);
    CHECK(why && strstr(why, "max_bytes"));
    ipreasm_opts_default(&o);
    o.max_datagrams = 0;
    CHECK(ipreasm_new(&o, &why) == NULL);
    CHECK(why && strstr(why, "max_datagrams"));
    ipreasm_opts_default(&o);
    o.timeout_ns = 0;
    CHECK(ipreasm_new(&o, &why) == NULL);
    CHECK(why && strstr(why, "timeout"));
    r = ipreasm_new(NULL, NULL);
    CHECK(r != NULL);
    ipreasm_free(r);
}

int main(void)
{
    RUN(pcapin_fragment_fields);
    RUN(in_order_v4);
    RUN(reversed_v4);
    RUN(shuffled_v4);
    RUN(ipv6_in_order_and_shuffled);
    RUN(duplicated);
    RUN(duplicate_keeps_first_bytes);
    RUN(overlapping);
    RUN(contradicting_ends);
    RUN(missing_last);
    RUN(missing_middle);
    RUN(eviction_by_count);
    RUN(eviction_by_bytes);
    RUN(timeout);
    RUN(oversize);
    RUN(odd_lengths);
    RUN(keys);
    RUN(snaplen_cut);
    RUN(tcp_segment);
    RUN(not_fragments_and_bad_options);
    CHECK_DONE();
}
