/* libFuzzer target for RTP and RTCP: parses the input as an RTP packet,
 * rebuilds it and parses the result again (header, payload and every field
 * must agree, or it aborts so the fuzzer reports the builder/parser
 * disagreement); feeds the input's 16-bit words through the RFC 3550 A.1
 * sequence state and A.8 jitter; and walks the input as an RTCP compound in
 * strict and reduced-size mode, rebuilding each SR, RR, SDES, BYE and APP
 * and checking that it parses back to the same fields. */
#include <stdlib.h>
#include <string.h>

#include "rtcp.h"
#include "rtp.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[1 << 19];

static bool same_bytes(const void *a, const void *b, size_t n)
{
    return n == 0 || memcmp(a, b, n) == 0;
}

static void rtp_round_trip(const uint8_t *data, size_t size)
{
    struct rtp_header h, h2;
    struct wire_error err = {0, NULL};
    int hlen = rtp_parse(data, size, &h, &err);
    if (hlen < 0) {
        check(err.reason != NULL && err.offset <= size);
        return;
    }
    check((size_t)hlen + h.payload_len + h.padding_len == size);
    check(rtp_packet_size(&h, h.payload_len) == size);
    int n = rtp_build(&h, h.payload, h.payload_len, out, sizeof(out), &err);
    check(n == (int)size);
    /* Padding bytes other than the count are not preserved (they are zeros). */
    check(same_bytes(out, data, (size_t)hlen + h.payload_len));
    check(rtp_parse(out, (size_t)n, &h2, &err) == hlen);
    check(h2.version == h.version && h2.padding == h.padding && h2.extension == h.extension &&
          h2.csrc_count == h.csrc_count && h2.marker == h.marker &&
          h2.payload_type == h.payload_type && h2.seq == h.seq && h2.timestamp == h.timestamp &&
          h2.ssrc == h.ssrc && h2.ext_profile == h.ext_profile &&
          h2.ext_length == h.ext_length && h2.padding_len == h.padding_len &&
          h2.payload_len == h.payload_len);
    check(same_bytes(h2.csrc, h.csrc, sizeof(h.csrc[0]) * h.csrc_count));
    check(same_bytes(h2.payload, h.payload, h.payload_len));
    if (h.extension)
        check(same_bytes(h2.ext_data, h.ext_data, (size_t)h.ext_length * 4));
    /* Too small an output buffer must fail cleanly. */
    check(rtp_build(&h, h.payload, h.payload_len, out, size - 1, &err) == WIRE_ERROR);
}

static void sequence_state(const uint8_t *data, size_t size)
{
    if (size < 2)
        return;
    struct rtp_source s;
    struct rtp_jitter j;
    unsigned min_seq = data[0] % 3;
    rtp_source_init(&s, wire_get_be16(data), min_seq);
    rtp_jitter_init(&j);
    uint64_t arrival_ns = 0;
    uint32_t updates = 0;
    for (size_t i = 0; i + 2 <= size; i += 2) {
        uint16_t seq = wire_get_be16(data + i);
        uint32_t before = s.received;
        bool counted = rtp_source_update(&s, seq);
        updates++;
        /* A counted packet adds one, unless it re-synced the state to one. */
        check(counted ? (s.received == before + 1 || s.received == 1) : s.received == before);
        check(s.received <= updates);
        check(rtp_source_expected(&s) >= 0);
        if ((i / 2) % 16 == 15)
            (void)rtp_source_fraction_lost(&s);
        arrival_ns += (uint64_t)data[i] * 1000003u;
        check(rtp_jitter_update(&j, arrival_ns, (uint32_t)seq * 3000u, 90000));
        check(j.jitter >= 0);
    }
    (void)rtp_source_lost(&s);
    (void)rtp_jitter_rr(&j);
}

static bool same_blocks(const struct rtcp_packet *a, const struct rtcp_packet *b)
{
    if (a->count != b->count)
        return false;
    for (unsigned i = 0; i < a->count; i++) {
        const struct rtcp_report_block *x = &a->blocks[i], *y = &b->blocks[i];
        if (x->ssrc != y->ssrc || x->fraction_lost != y->fraction_lost ||
            x->cumulative_lost != y->cumulative_lost || x->ext_highest_seq != y->ext_highest_seq ||
            x->jitter != y->jitter || x->lsr != y->lsr || x->dlsr != y->dlsr)
            return false;
    }
    return true;
}

static bool same_str(struct wire_str a, struct wire_str b)
{
    return a.len == b.len && same_bytes(a.ptr, b.ptr, a.len);
}

static struct rtcp_sdes_item items[1 << 14];

/* Parse the single packet b built and return it in *p. */
static void reparse(const struct rtcp_builder *b, struct rtcp_packet *p)
{
    struct rtcp_iter it;
    struct wire_error err;
    rtcp_iter_init(&it, b->buf, b->len, RTCP_REDUCED_SIZE);
    check(rtcp_iter_next(&it, p, &err) == (int)b->len);
    check(rtcp_iter_next(&it, p + 1, &err) == 0);
}

static void rtcp_rebuild(const struct rtcp_packet *p)
{
    static struct rtcp_packet q[2];
    struct rtcp_builder b;
    struct wire_error err;
    rtcp_builder_init(&b, out, sizeof(out));
    switch (p->packet_type) {
    case RTCP_SR:
        check(rtcp_add_sr(&b, p->ssrc, &p->sender, p->blocks, p->count, &err) > 0);
        reparse(&b, q);
        check(q->ssrc == p->ssrc && q->sender.ntp_ts == p->sender.ntp_ts &&
              q->sender.rtp_ts == p->sender.rtp_ts &&
              q->sender.packet_count == p->sender.packet_count &&
              q->sender.octet_count == p->sender.octet_count && same_blocks(p, q));
        break;
    case RTCP_RR:
        check(rtcp_add_rr(&b, p->ssrc, p->blocks, p->count, &err) > 0);
        reparse(&b, q);
        check(q->ssrc == p->ssrc && same_blocks(p, q));
        break;
    case RTCP_BYE:
        check(rtcp_add_bye(&b, p->bye_ssrc, p->count, p->bye_reason, &err) > 0);
        reparse(&b, q);
        check(q->count == p->count && same_bytes(q->bye_ssrc, p->bye_ssrc, 4u * p->count) &&
              same_str(q->bye_reason, p->bye_reason));
        break;
    case RTCP_APP:
        if (p->app_data_len % 4 != 0) {
            check(rtcp_add_app(&b, p->count, p->ssrc, p->app_name, p->app_data,
                               p->app_data_len, &err) == WIRE_ERROR);
            break;
        }
        check(rtcp_add_app(&b, p->count, p->ssrc, p->app_name, p->app_data, p->app_data_len,
                           &err) > 0);
        reparse(&b, q);
        check(q->count == p->count && q->ssrc == p->ssrc && same_bytes(q->app_name, p->app_name, 4) &&
              q->app_data_len == p->app_data_len &&
              same_bytes(q->app_data, p->app_data, p->app_data_len));
        break;
    case RTCP_SDES: {
        struct rtcp_sdes_chunk_spec specs[RTCP_COUNT_MAX];
        size_t used = 0;
        for (unsigned c = 0; c < p->count; c++) {
            size_t pos = 0, first = used;
            struct rtcp_sdes_item item;
            while (rtcp_sdes_item_next(&p->chunks[c], &pos, &item)) {
                if (used == sizeof(items) / sizeof(items[0]))
                    return;
                items[used++] = item;
            }
            /* The walk must cover the chunk's items exactly. */
            check(pos == p->chunks[c].items_len);
            specs[c].ssrc = p->chunks[c].ssrc;
            specs[c].items = items + first;
            specs[c].item_count = (unsigned)(used - first);
        }
        check(rtcp_add_sdes(&b, specs, p->count, &err) > 0);
        reparse(&b, q);
        check(q->count == p->count);
        size_t k = 0;
        for (unsigned c = 0; c < q->count; c++) {
            size_t pos = 0;
            struct rtcp_sdes_item item;
            check(q->chunks[c].ssrc == p->chunks[c].ssrc);
            check(same_str(q->chunks[c].cname, p->chunks[c].cname));
            while (rtcp_sdes_item_next(&q->chunks[c], &pos, &item)) {
                check(k < used && item.type == items[k].type &&
                      same_str(item.prefix, items[k].prefix) &&
                      same_str(item.value, items[k].value));
                k++;
            }
        }
        check(k == used);
        break;
    }
    default:
        break;
    }
}

static void rtcp_walk(const uint8_t *data, size_t size, unsigned flags)
{
    static struct rtcp_packet p;
    struct rtcp_iter it;
    struct wire_error err = {0, NULL};
    rtcp_iter_init(&it, data, size, flags);
    size_t total = 0;
    int n;
    while ((n = rtcp_iter_next(&it, &p, &err)) > 0) {
        check(p.offset == total && p.len == (size_t)n && p.body_len <= p.len - 4);
        total += (size_t)n;
        rtcp_rebuild(&p);
    }
    if (n == 0)
        check(total == size);
    else
        check(err.reason != NULL && err.offset <= size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rtp_round_trip(data, size);
    sequence_state(data, size);
    rtcp_walk(data, size, RTCP_STRICT);
    rtcp_walk(data, size, RTCP_REDUCED_SIZE);
    return 0;
}
