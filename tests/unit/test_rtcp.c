/* Unit tests of the RTCP compound parser and builders (RFC 3550 section 6,
 * A.2) and of the NTP timestamp helpers. */
#include "check.h"
#include "rtcp.h"

static struct wire_str S(const char *s)
{
    struct wire_str w = {s, strlen(s)};
    return w;
}

/* A sender's compound as it comes off the wire: SR with one report block,
 * then SDES with a CNAME. */
static const uint8_t sr_sdes[] = {
    0x81, 0xc8, 0x00, 0x0c,             /* V=2 RC=1 SR, 13 words */
    0x12, 0x34, 0x56, 0x78,             /* sender ssrc */
    0xe8, 0xf3, 0xc1, 0xd2,             /* NTP seconds */
    0x80, 0x00, 0x00, 0x00,             /* NTP fraction: half a second */
    0x00, 0x01, 0xe2, 0x40,             /* RTP timestamp 123456 */
    0x00, 0x00, 0x00, 0x64,             /* packet count 100 */
    0x00, 0x03, 0x0d, 0x40,             /* octet count 200000 */
    0xca, 0xfe, 0xba, 0xbe,             /* block: ssrc */
    0x40, 0xff, 0xff, 0xfe,             /* fraction 64/256, cumulative lost -2 */
    0x00, 0x01, 0x00, 0x05,             /* extended highest seq: 1 cycle, seq 5 */
    0x00, 0x00, 0x00, 0x20,             /* jitter 32 */
    0xc1, 0xd2, 0x80, 0x00,             /* LSR */
    0x00, 0x01, 0x00, 0x00,             /* DLSR: 1 s */
    0x81, 0xca, 0x00, 0x04,             /* V=2 SC=1 SDES, 5 words */
    0x12, 0x34, 0x56, 0x78,             /* chunk ssrc */
    0x01, 0x09, 'u', 's', 'e', 'r', '@', 'h', 'o', 's', 't', /* CNAME */
    0x00,                               /* END, already on a 32-bit boundary */
};

static void parse_captured_sr_sdes(void)
{
    struct rtcp_iter it;
    struct rtcp_packet p;
    struct wire_error e = {0, NULL};
    rtcp_iter_init(&it, sr_sdes, sizeof(sr_sdes), RTCP_STRICT);

    CHECK_EQ_INT(rtcp_iter_next(&it, &p, &e), 52);
    CHECK_EQ_INT(p.packet_type, RTCP_SR);
    CHECK_EQ_INT(p.count, 1);
    CHECK_EQ_INT(p.length_words, 12);
    CHECK_EQ_INT(p.offset, 0);
    CHECK(p.ssrc == 0x12345678u);
    CHECK(p.sender.ntp_ts == 0xe8f3c1d280000000ull);
    CHECK_EQ_INT(p.sender.rtp_ts, 123456);
    CHECK_EQ_INT(p.sender.packet_count, 100);
    CHECK_EQ_INT(p.sender.octet_count, 200000);
    CHECK(p.blocks[0].ssrc == 0xcafebabeu);
    CHECK_EQ_INT(p.blocks[0].fraction_lost, 64);
    CHECK_EQ_INT(p.blocks[0].cumulative_lost, -2);
    CHECK_EQ_INT(p.blocks[0].ext_highest_seq, 65536 + 5);
    CHECK_EQ_INT(p.blocks[0].jitter, 32);
    CHECK(p.blocks[0].lsr == 0xc1d28000u);
    CHECK_EQ_INT(p.blocks[0].dlsr, 65536);
    CHECK_EQ_INT(p.ext_len, 0);

    CHECK_EQ_INT(rtcp_iter_next(&it, &p, &e), 20);
    CHECK_EQ_INT(p.packet_type, RTCP_SDES);
    CHECK_EQ_INT(p.offset, 52);
    CHECK_EQ_INT(p.count, 1);
    CHECK(p.chunks[0].ssrc == 0x12345678u);
    CHECK_STR(p.chunks[0].cname.ptr, p.chunks[0].cname.len, "user@host");
    size_t pos = 0;
    struct rtcp_sdes_item item;
    CHECK(rtcp_sdes_item_next(&p.chunks[0], &pos, &item));
    CHECK_EQ_INT(item.type, RTCP_SDES_CNAME);
    CHECK_STR(item.value.ptr, item.value.len, "user@host");
    CHECK(!rtcp_sdes_item_next(&p.chunks[0], &pos, &item));

    CHECK_EQ_INT(rtcp_iter_next(&it, &p, &e), 0);
    CHECK_EQ_INT(rtcp_validate(sr_sdes, sizeof(sr_sdes), RTCP_STRICT, &e), 2);
}

static void build_sr_sdes_matches_capture(void)
{
    uint8_t out[128];
    struct rtcp_builder b;
    struct wire_error e = {0, NULL};
    rtcp_builder_init(&b, out, sizeof(out));
    struct rtcp_sender_info si = {0xe8f3c1d280000000ull, 123456, 100, 200000};
    struct rtcp_report_block rb = {0xcafebabeu, 64, -2, 65536 + 5, 32, 0xc1d28000u, 65536};
    CHECK_EQ_INT(rtcp_add_sr(&b, 0x12345678u, &si, &rb, 1, &e), 52);
    CHECK_EQ_INT(rtcp_add_sdes_cname(&b, 0x12345678u, S("user@host"), &e), 20);
    CHECK_EQ_INT(b.len, sizeof(sr_sdes));
    CHECK(memcmp(out, sr_sdes, sizeof(sr_sdes)) == 0);
    CHECK_EQ_INT(b.count, 2);
}

static void rr_round_trip_with_extremes(void)
{
    uint8_t out[1024];
    struct rtcp_builder b;
    struct wire_error e = {0, NULL};
    struct rtcp_report_block rb[RTCP_COUNT_MAX];
    for (unsigned i = 0; i < RTCP_COUNT_MAX; i++) {
        rb[i].ssrc = 0x1000 + i;
        rb[i].fraction_lost = (uint8_t)(i * 8);
        rb[i].cumulative_lost = (i % 2) ? 0x7fffff : -0x800000;
        rb[i].ext_highest_seq = 0xffffffffu - i;
        rb[i].jitter = i;
        rb[i].lsr = i * 3;
        rb[i].dlsr = i * 5;
    }
    rtcp_builder_init(&b, out, sizeof(out));
    CHECK_EQ_INT(rtcp_add_rr(&b, 0xfeedface, rb, RTCP_COUNT_MAX, &e), 8 + 24 * 31);

    struct rtcp_iter it;
    struct rtcp_packet p;
    rtcp_iter_init(&it, out, b.len, RTCP_STRICT);
    CHECK_EQ_INT(rtcp_iter_next(&it, &p, &e), 8 + 24 * 31);
    CHECK_EQ_INT(p.packet_type, RTCP_RR);
    CHECK_EQ_INT(p.count, 31);
    CHECK(p.ssrc == 0xfeedfaceu);
    for (unsigned i = 0; i < RTCP_COUNT_MAX; i++) {
        CHECK_EQ_INT(p.blocks[i].ssrc, rb[i].ssrc);
        CHECK_EQ_INT(p.blocks[i].fraction_lost, rb[i].fraction_lost);
        CHECK_EQ_INT(p.blocks[i].cumulative_lost, rb[i].cumulative_lost);
        CHECK_EQ_INT(p.blocks[i].ext_highest_seq, rb[i].ext_highest_seq);
        CHECK_EQ_INT(p.blocks[i].jitter, rb[i].jitter);
        CHECK_EQ_INT(p.blocks[i].lsr, rb[i].lsr);
        CHECK_EQ_INT(p.blocks[i].dlsr, rb[i].dlsr);
    }
    CHECK_EQ_INT(rtcp_iter_next(&it, &p, &e), 0);

    /* An empty RR (no senders heard) is the 8-byte minimum. */
    rtcp_builder_init(&b, out, sizeof(out));
    CHECK_EQ_INT(rtcp_add_rr(&b, 7, NULL, 0, &e), 8);
    const uint8_t want[8] = {0x80, 0xc9, 0x00, 0x01, 0, 0, 0, 7};
    CHECK(memcmp(out, want, 8) == 0);
}

static void sdes_bye_app_round_trip(void)
{
    uint8_t out[512];
    struct rtcp_builder b;
    struct wire_error e = {0, NULL};
    rtcp_builder_init(&b, out, sizeof(out));
    CHECK_EQ_INT(rtcp_add_rr(&b, 1, NULL, 0, &e), 8);

    struct rtcp_sdes_item items1[] = {
        {RTCP_SDES_CNAME, {NULL, 0}, S("a@b")},
        {RTCP_SDES_TOOL, {NULL, 0}, S("rtsp-harness")},
        {RTCP_SDES_PRIV, S("x-lab"), S("v1")},
    };
    struct rtcp_sdes_item items2[] = {{RTCP_SDES_NAME, {NULL, 0}, S("")}};
    struct rtcp_sdes_chunk_spec chunks[] = {{0x11, items1, 3}, {0x22, items2, 1}, {0x33, NULL, 0}};
    /* chunk 1: 4 + 5 + 14 + 10 = 33 -> 36; chunk 2: 4 + 2 = 6 -> 8; chunk 3: 4 -> 8 */
    CHECK_EQ_INT(rtcp_add_sdes(&b, chunks, 3, &e), 4 + 36 + 8 + 8);
    uint32_t gone[] = {0x11, 0x22};
    CHECK_EQ_INT(rtcp_add_bye(&b, gone, 2, S("teardown"), &e), 4 + 8 + 12);
    const uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    CHECK_EQ_INT(rtcp_add_app(&b, 5, 0x11, "HRNS", data, 8, &e), 20);

    struct rtcp_iter it;
    struct rtcp_packet p;
    struct rtcp_sdes_item item;
    size_t pos = 0;
    rtcp_iter_init(&it, out, b.len, RTCP_STRICT);
    CHECK_EQ_INT(rtcp_iter_next(&it, &p, &e), 8);
    CHECK_EQ_INT(rtcp_iter_next(&it, &p, &e), 56);
    CHECK_EQ_INT(p.packet_type, RTCP_SDES);
    CHECK_EQ_INT(p.count, 3);
    CHECK_EQ_INT(p.chunks[0].ssrc, 0x11);
    CHECK_STR(p.chunks[0].cname.ptr, p.chunks[0].cname.len, "a@b");
    CHECK(rtcp_sdes_item_next(&p.chunks[0], &pos, &item));
    CHECK_EQ_INT(item.type, RTCP_SDES_CNAME);
    CHECK(rtcp_sdes_item_next(&p.chunks[0], &pos, &item));
    CHECK_EQ_INT(item.type, RTCP_SDES_TOOL);
    CHECK_STR(item.value.ptr, item.value.len, "rtsp-harness");
    CHECK(rtcp_sdes_item_next(&p.chunks[0], &pos, &item));
    CHECK_EQ_INT(item.type, RTCP_SDES_PRIV);
    CHECK_STR(item.prefix.ptr, item.prefix.len, "x-lab");
    CHECK_STR(item.value.ptr, item.value.len, "v1");
    CHECK(!rtcp_sdes_item_next(&p.chunks[0], &pos, &item));
    CHECK_EQ_INT(p.chunks[1].ssrc, 0x22);
    CHECK(p.chunks[1].cname.ptr == NULL);
    pos = 0;
    CHECK(rtcp_sdes_item_next(&p.chunks[1], &pos, &item));
    CHECK_EQ_INT(item.type, RTCP_SDES_NAME);
    CHECK_EQ_INT(item.value.len, 0);
    CHECK_EQ_INT(p.chunks[2].items_len, 0);

    CHECK_EQ_INT(rtcp_iter_next(&it, &p, &e), 24);
    CHECK_EQ_INT(p.packet_type, RTCP_BYE);
    CHECK_EQ_INT(p.count, 2);
    CHECK_EQ_INT(p.bye_ssrc[0], 0x11);
    CHECK_EQ_INT(p.bye_ssrc[1], 0x22);
    CHECK_STR(p.bye_reason.ptr, p.bye_reason.len, "teardown");

    CHECK_EQ_INT(rtcp_iter_next(&it, &p, &e), 20);
    CHECK_EQ_INT(p.packet_type, RTCP_APP);
    CHECK_EQ_INT(p.count, 5);
    CHECK_EQ_INT(p.ssrc, 0x11);
    CHECK(memcmp(p.app_name, "HRNS", 4) == 0);
    CHECK_EQ_INT(p.app_data_len, 8);
    CHECK(memcmp(p.app_data, data, 8) == 0);
    CHECK_EQ_INT(rtcp_iter_next(&it, &p, &e), 0);

    /* BYE without a reason. */
    rtcp_builder_init(&b, out, sizeof(out));
    rtcp_add_rr(&b, 1, NULL, 0, &e);
    CHECK_EQ_INT(rtcp_add_bye(&b, gone, 1, (struct wire_str){NULL, 0}, &e), 8);
    rtcp_iter_init(&it, out, b.len, RTCP_STRICT);
    rtcp_iter_next(&it, &p, &e);
    CHECK_EQ_INT(rtcp_iter_next(&it, &p, &e), 8);
    CHECK(p.bye_reason.ptr == NULL);
}

static void padding_on_last_packet(void)
{
    uint8_t out[128];
    struct rtcp_builder b;
    struct wire_error e = {0, NULL};
    rtcp_builder_init(&b, out, sizeof(out));
    rtcp_add_rr(&b, 1, NULL, 0, &e);
    CHECK_EQ_INT(rtcp_add_bye(&b, (const uint32_t[]){1}, 1, S("x"), &e), 12);
    CHECK_EQ_INT(rtcp_add_padding(&b, 8, &e), 8);
    CHECK_EQ_INT(rtcp_add_padding(&b, 8, &e), WIRE_ERROR);
    CHECK_EQ_INT(rtcp_add_rr(&b, 1, NULL, 0, &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "after a padded packet") != NULL);

    struct rtcp_iter it;
    struct rtcp_packet p;
    rtcp_iter_init(&it, out, b.len, RTCP_STRICT);
    CHECK_EQ_INT(rtcp_iter_next(&it, &p, &e), 8);
    CHECK_EQ_INT(rtcp_iter_next(&it, &p, &e), 20);
    CHECK(p.padding);
    CHECK_EQ_INT(p.padding_len, 8);
    CHECK_EQ_INT(p.body_len, 8);
    CHECK_STR(p.bye_reason.ptr, p.bye_reason.len, "x");
    CHECK_EQ_INT(rtcp_iter_next(&it, &p, &e), 0);

    CHECK_EQ_INT(rtcp_add_padding(&b, 6, &e), WIRE_ERROR);
    struct rtcp_builder empty;
    rtcp_builder_init(&empty, out, sizeof(out));
    CHECK_EQ_INT(rtcp_add_padding(&empty, 4, &e), WIRE_ERROR);
}

static int first_error(const uint8_t *buf, size_t len, unsigned flags, struct wire_error *e)
{
    e->reason = NULL;
    return rtcp_validate(buf, len, flags, e);
}

static void compound_errors(void)
{
    uint8_t p[sizeof(sr_sdes) + 8];
    struct wire_error e = {0, NULL};

    CHECK_EQ_INT(first_error(sr_sdes, 0, RTCP_STRICT, &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "empty") != NULL);
    CHECK_EQ_INT(first_error(sr_sdes, 3, RTCP_STRICT, &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "header runs past") != NULL);

    /* Truncated anywhere inside a packet: the length no longer fits. */
    for (size_t cut = 4; cut < sizeof(sr_sdes); cut++) {
        if (cut == 52)
            continue; /* a whole SR alone is valid */
        CHECK_EQ_INT(first_error(sr_sdes, cut, RTCP_STRICT, &e), WIRE_ERROR);
    }
    CHECK_EQ_INT(first_error(sr_sdes, 51, RTCP_STRICT, &e), WIRE_ERROR);
    CHECK_EQ_INT(e.offset, 2);
    CHECK(strstr(e.reason, "length runs past") != NULL);
    CHECK_EQ_INT(first_error(sr_sdes, 54, RTCP_STRICT, &e), WIRE_ERROR);
    CHECK_EQ_INT(e.offset, 52);
    CHECK(strstr(e.reason, "header runs past") != NULL);

    memcpy(p, sr_sdes, sizeof(sr_sdes));
    p[0] = 0x41; /* version 1 */
    CHECK_EQ_INT(first_error(p, sizeof(sr_sdes), RTCP_STRICT, &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "version") != NULL);
    memcpy(p, sr_sdes, sizeof(sr_sdes));
    p[52] = 0x01; /* version 0 on the second packet */
    CHECK_EQ_INT(first_error(p, sizeof(sr_sdes), RTCP_STRICT, &e), WIRE_ERROR);
    CHECK_EQ_INT(e.offset, 52);

    /* First packet must be SR or RR, unless reduced-size RTCP is allowed. */
    CHECK_EQ_INT(first_error(sr_sdes + 52, 20, RTCP_STRICT, &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "SR or RR") != NULL);
    CHECK_EQ_INT(first_error(sr_sdes + 52, 20, RTCP_REDUCED_SIZE, &e), 1);

    /* Padding bit on a packet that is not last, on the first, bad counts. */
    memcpy(p, sr_sdes, sizeof(sr_sdes));
    p[0] |= 0x20;
    CHECK_EQ_INT(first_error(p, sizeof(sr_sdes), RTCP_STRICT, &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "first packet") != NULL);
    CHECK_EQ_INT(first_error(p, sizeof(sr_sdes), RTCP_REDUCED_SIZE, &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "not the last") != NULL);
    memcpy(p, sr_sdes, sizeof(sr_sdes));
    p[52] |= 0x20; /* SDES padded; last byte 0 is the END item */
    CHECK_EQ_INT(first_error(p, sizeof(sr_sdes), RTCP_STRICT, &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "padding count is 0") != NULL);
    p[sizeof(sr_sdes) - 1] = 17;
    CHECK_EQ_INT(first_error(p, sizeof(sr_sdes), RTCP_STRICT, &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "larger than the packet body") != NULL);

    /* SR whose count claims more blocks than its length holds. */
    memcpy(p, sr_sdes, sizeof(sr_sdes));
    p[0] = 0x82;
    CHECK_EQ_INT(first_error(p, sizeof(sr_sdes), RTCP_STRICT, &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "SR too short") != NULL);
    const uint8_t short_rr[] = {0x81, 0xc9, 0x00, 0x01, 0, 0, 0, 1};
    CHECK_EQ_INT(first_error(short_rr, sizeof(short_rr), RTCP_STRICT, &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "RR too short") != NULL);
    const uint8_t short_sr[] = {0x80, 0xc8, 0x00, 0x01, 0, 0, 0, 1};
    CHECK_EQ_INT(first_error(short_sr, sizeof(short_sr), RTCP_STRICT, &e), WIRE_ERROR);

    /* The iterator stays failed. */
    struct rtcp_iter it;
    struct rtcp_packet pkt;
    rtcp_iter_init(&it, short_rr, sizeof(short_rr), RTCP_STRICT);
    CHECK_EQ_INT(rtcp_iter_next(&it, &pkt, &e), WIRE_ERROR);
    CHECK_EQ_INT(rtcp_iter_next(&it, &pkt, &e), WIRE_ERROR);
}

/* An RR followed by the given SDES packet bytes. */
static int sdes_error(const uint8_t *sdes, size_t n, struct wire_error *e)
{
    uint8_t buf[64] = {0x80, 0xc9, 0x00, 0x01, 0, 0, 0, 1};
    memcpy(buf + 8, sdes, n);
    return first_error(buf, 8 + n, RTCP_STRICT, e);
}

static void sdes_errors(void)
{
    struct wire_error e = {0, NULL};
    /* Item length 9 runs past a 4-word packet. */
    const uint8_t over[] = {0x81, 0xca, 0x00, 0x03, 0, 0, 0, 1, 0x01, 0x09, 'a', 'b', 'c', 'd', 0, 0};
    CHECK_EQ_INT(sdes_error(over, sizeof(over), &e), WIRE_ERROR);
    CHECK_EQ_INT(e.offset, 8 + 9);
    CHECK(strstr(e.reason, "item length") != NULL);
    /* Items fill the chunk with no END. */
    const uint8_t no_end[] = {0x81, 0xca, 0x00, 0x02, 0, 0, 0, 1, 0x01, 0x02, 'a', 'b'};
    CHECK_EQ_INT(sdes_error(no_end, sizeof(no_end), &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "no END") != NULL);
    /* A type byte with no room for its length byte. */
    const uint8_t half[] = {0x81, 0xca, 0x00, 0x02, 0, 0, 0, 1, 0x01, 0x01, 'a', 0x02};
    CHECK_EQ_INT(sdes_error(half, sizeof(half), &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "item header") != NULL);
    /* Non-zero byte in the null padding after END. */
    const uint8_t dirty[] = {0x81, 0xca, 0x00, 0x02, 0, 0, 0, 1, 0x01, 0x01, 'a', 0x00, 0, 0, 0, 0};
    CHECK_EQ_INT(sdes_error(dirty, 12, &e), 1 + 1); /* END lands exactly on the boundary */
    const uint8_t dirty2[] = {0x81, 0xca, 0x00, 0x02, 0, 0, 0, 1, 0x01, 0x00, 0x00, 0x07};
    CHECK_EQ_INT(sdes_error(dirty2, sizeof(dirty2), &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "padding is not zero") != NULL);
    /* SC=2 but room for one chunk. */
    const uint8_t two[] = {0x82, 0xca, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 0};
    CHECK_EQ_INT(sdes_error(two, sizeof(two), &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "chunk runs past") != NULL);
    /* Bytes after the last chunk. */
    const uint8_t extra[] = {0x81, 0xca, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9};
    CHECK_EQ_INT(sdes_error(extra, sizeof(extra), &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "after its last chunk") != NULL);
    /* PRIV with a prefix length beyond the item. */
    const uint8_t priv[] = {0x81, 0xca, 0x00, 0x02, 0, 0, 0, 1, 0x08, 0x01, 0x05, 0x00};
    CHECK_EQ_INT(sdes_error(priv, sizeof(priv), &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "PRIV") != NULL);
    /* BYE reason length beyond the packet; APP too short. */
    const uint8_t bye[] = {0x81, 0xcb, 0x00, 0x02, 0, 0, 0, 1, 0x05, 'a', 'b', 'c'};
    CHECK_EQ_INT(sdes_error(bye, sizeof(bye), &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "BYE reason") != NULL);
    const uint8_t bye_short[] = {0x82, 0xcb, 0x00, 0x01, 0, 0, 0, 1};
    CHECK_EQ_INT(sdes_error(bye_short, sizeof(bye_short), &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "source count") != NULL);
    const uint8_t app[] = {0x80, 0xcc, 0x00, 0x01, 0, 0, 0, 1};
    CHECK_EQ_INT(sdes_error(app, sizeof(app), &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "APP too short") != NULL);
    /* Unknown types pass as a body slice (RTPFB here). */
    const uint8_t fb[] = {0x81, 0xcd, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2};
    CHECK_EQ_INT(sdes_error(fb, sizeof(fb), &e), 2);
}

static void builder_errors(void)
{
    uint8_t out[64];
    struct rtcp_builder b;
    struct wire_error e = {0, NULL};
    struct rtcp_report_block rb = {0};
    struct rtcp_sender_info si = {0};

    rtcp_builder_init(&b, out, 27);
    CHECK_EQ_INT(rtcp_add_sr(&b, 1, &si, NULL, 0, &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "does not fit") != NULL);
    CHECK_EQ_INT(b.len, 0);
    rtcp_builder_init(&b, out, 28);
    CHECK_EQ_INT(rtcp_add_sr(&b, 1, &si, NULL, 0, &e), 28);
    CHECK_EQ_INT(rtcp_add_rr(&b, 1, NULL, 0, &e), WIRE_ERROR);
    CHECK_EQ_INT(b.len, 28);

    rtcp_builder_init(&b, out, sizeof(out));
    rb.cumulative_lost = 0x800000;
    CHECK_EQ_INT(rtcp_add_rr(&b, 1, &rb, 1, &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "24 bits") != NULL);
    rb.cumulative_lost = -0x800001;
    CHECK_EQ_INT(rtcp_add_rr(&b, 1, &rb, 1, &e), WIRE_ERROR);
    CHECK_EQ_INT(rtcp_add_rr(&b, 1, &rb, 32, &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "above 31") != NULL);

    char big[300];
    memset(big, 'x', sizeof(big));
    struct wire_str too_long = {big, 256};
    CHECK_EQ_INT(rtcp_add_sdes_cname(&b, 1, too_long, &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "255") != NULL);
    CHECK_EQ_INT(rtcp_add_bye(&b, (const uint32_t[]){1}, 1, too_long, &e), WIRE_ERROR);
    struct rtcp_sdes_item end_item = {RTCP_SDES_END, {NULL, 0}, {NULL, 0}};
    struct rtcp_sdes_chunk_spec chunk = {1, &end_item, 1};
    CHECK_EQ_INT(rtcp_add_sdes(&b, &chunk, 1, &e), WIRE_ERROR);
    CHECK_EQ_INT(rtcp_add_app(&b, 32, 1, "ABCD", NULL, 0, &e), WIRE_ERROR);
    CHECK_EQ_INT(rtcp_add_app(&b, 1, 1, "ABCD", out, 3, &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "multiple of 4") != NULL);
    /* A CNAME of exactly 255 bytes fits: 4 + 4 + 2 + 255 + END -> 268. */
    uint8_t large[300];
    rtcp_builder_init(&b, large, sizeof(large));
    struct wire_str max_cname = {big, 255};
    CHECK_EQ_INT(rtcp_add_sdes_cname(&b, 1, max_cname, &e), 268);
    CHECK_EQ_INT(rtcp_validate(large, b.len, RTCP_REDUCED_SIZE, &e), 1);
}

static void cumulative_lost_clamp(void)
{
    CHECK_EQ_INT(rtcp_cumulative_lost_clamp(5), 5);
    CHECK_EQ_INT(rtcp_cumulative_lost_clamp(-5), -5);
    CHECK_EQ_INT(rtcp_cumulative_lost_clamp(100000000), 0x7fffff);
    CHECK_EQ_INT(rtcp_cumulative_lost_clamp(-100000000), -0x800000);
}

static void ntp_timestamps(void)
{
    /* 2024-01-01T00:00:00.5Z */
    struct timespec ts = {1704067200, 500000000};
    uint64_t ntp = ntp_from_timespec(&ts);
    CHECK_EQ_INT(ntp >> 32, 1704067200ull + 2208988800ull);
    CHECK_EQ_INT(ntp & 0xffffffffu, 0x80000000u);
    CHECK(ntp_compact(ntp) == (uint32_t)(((ntp >> 32) << 16) | 0x8000));

    /* Every nanosecond value survives the round trip. */
    const long nsecs[] = {0, 1, 2, 999999999, 123456789, 500000000, 999999998};
    for (size_t i = 0; i < sizeof(nsecs) / sizeof(nsecs[0]); i++) {
        struct timespec in = {1704067200, nsecs[i]}, back;
        ntp_to_timespec(ntp_from_timespec(&in), &back);
        CHECK_EQ_INT(back.tv_sec, in.tv_sec);
        CHECK_EQ_INT(back.tv_nsec, in.tv_nsec);
    }
    /* Unix epoch and NTP era 1 (after 2036-02-07). */
    struct timespec epoch = {0, 0}, back;
    CHECK_EQ_INT(ntp_from_timespec(&epoch) >> 32, 2208988800u);
    struct timespec y2040 = {2208988800LL, 0};
    ntp = ntp_from_timespec(&y2040);
    CHECK_EQ_INT(ntp >> 32, (2208988800ull * 2) & 0xffffffffu);
    ntp_to_timespec(ntp, &back);
    CHECK_EQ_INT(back.tv_sec, 2208988800LL);
    /* tv_nsec outside 0..999999999 is normalised. */
    struct timespec odd = {10, 1500000000}, fixed = {11, 500000000};
    CHECK(ntp_from_timespec(&odd) == ntp_from_timespec(&fixed));
}

static void rtt_from_lsr_dlsr(void)
{
    /* RFC 3550 6.4.1 example: A = 0xb710:8000 (46864.500 s), LSR =
     * 0xb705:2000 (46853.125 s), DLSR = 0x0005:4000 (5.250 s): delay 6.125 s. */
    int64_t rtt = 0;
    CHECK(ntp_rtt_ns(0xb7108000u, 0xb7052000u, 0x00054000u, &rtt));
    CHECK_EQ_INT(rtt, 6125000000LL);
    CHECK(!ntp_rtt_ns(0xb7108000u, 0, 0x00054000u, &rtt));
    /* A DLSR larger than the elapsed time gives a negative delay, kept as is. */
    CHECK(ntp_rtt_ns(0x00010000u, 0x00008000u, 0x00010000u, &rtt));
    CHECK_EQ_INT(rtt, -500000000LL);
    CHECK_EQ_INT(ntp_compact_to_ns(0x10000), 1000000000LL);
}

int main(void)
{
    RUN(parse_captured_sr_sdes);
    RUN(build_sr_sdes_matches_capture);
    RUN(rr_round_trip_with_extremes);
    RUN(sdes_bye_app_round_trip);
    RUN(padding_on_last_packet);
    RUN(compound_errors);
    RUN(sdes_errors);
    RUN(builder_errors);
    RUN(cumulative_lost_clamp);
    RUN(ntp_timestamps);
    RUN(rtt_from_lsr_dlsr);
    CHECK_DONE();
}
