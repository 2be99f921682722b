/* Unit tests of the RTP header parser and builder, 16-bit serial arithmetic
 * and the RFC 3550 appendix A receiver state (sequence, loss, jitter). */
#include "check.h"
#include "rtp.h"

/* The lab's packet: V=2, PT=26, seq 1, timestamp 1700000000, SSRC 0. */
static const uint8_t lab_packet[] = {
    0x80, 0x1a, 0x00, 0x01, 0x65, 0x53, 0xf1, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xd8, 0xff, 0xd9,
};

static void parse_lab_packet_fields(void)
{
    struct rtp_header h;
    struct wire_error e = {0, NULL};
    CHECK_EQ_INT(rtp_parse(lab_packet, sizeof(lab_packet), &h, &e), 12);
    CHECK_EQ_INT(h.version, 2);
    CHECK(!h.padding);
    CHECK(!h.extension);
    CHECK(!h.marker);
    CHECK_EQ_INT(h.csrc_count, 0);
    CHECK_EQ_INT(h.payload_type, 26);
    CHECK_EQ_INT(h.seq, 1);
    CHECK_EQ_INT(h.timestamp, 1700000000);
    CHECK_EQ_INT(h.ssrc, 0);
    CHECK_EQ_INT(h.payload_len, 4);
    CHECK(h.payload == lab_packet + 12);
    CHECK_EQ_INT(h.payload[0], 0xff);
}

/* Every field set: marker, 2 CSRCs, a one-word extension, 3 bytes of padding. */
static const uint8_t full_packet[] = {
    0xb2, 0xe0, 0xff, 0xff,             /* V=2 P=1 X=1 CC=2, M=1 PT=96, seq 65535 */
    0x12, 0x34, 0x56, 0x78,             /* timestamp */
    0xca, 0xfe, 0xba, 0xbe,             /* ssrc */
    0x00, 0x00, 0x00, 0x01,             /* csrc 1 */
    0x00, 0x00, 0x00, 0x02,             /* csrc 2 */
    0xbe, 0xde, 0x00, 0x01,             /* extension profile 0xbede, 1 word */
    0x10, 0xaa, 0x00, 0x00,             /* extension data */
    'a', 'b',                           /* payload */
    0x00, 0x00, 0x03,                   /* padding, count 3 */
};

static void parse_every_field(void)
{
    struct rtp_header h;
    CHECK_EQ_INT(rtp_parse(full_packet, sizeof(full_packet), &h, NULL), 28);
    CHECK(h.padding);
    CHECK(h.extension);
    CHECK(h.marker);
    CHECK_EQ_INT(h.csrc_count, 2);
    CHECK_EQ_INT(h.payload_type, 96);
    CHECK_EQ_INT(h.seq, 65535);
    CHECK(h.timestamp == 0x12345678u);
    CHECK(h.ssrc == 0xcafebabeu);
    CHECK_EQ_INT(h.csrc[0], 1);
    CHECK_EQ_INT(h.csrc[1], 2);
    CHECK_EQ_INT(h.ext_profile, 0xbede);
    CHECK_EQ_INT(h.ext_length, 1);
    CHECK(h.ext_data == full_packet + 24);
    CHECK_EQ_INT(h.padding_len, 3);
    CHECK_STR(h.payload, h.payload_len, "ab");
}

static void build_round_trips_every_field(void)
{
    struct rtp_header h;
    CHECK_EQ_INT(rtp_parse(full_packet, sizeof(full_packet), &h, NULL), 28);
    uint8_t out[64];
    CHECK_EQ_INT(rtp_packet_size(&h, h.payload_len), sizeof(full_packet));
    int n = rtp_build(&h, h.payload, h.payload_len, out, sizeof(out), NULL);
    CHECK_EQ_INT(n, sizeof(full_packet));
    CHECK(n > 0 && memcmp(out, full_packet, sizeof(full_packet)) == 0);

    struct rtp_header h2;
    CHECK_EQ_INT(rtp_parse(out, (size_t)n, &h2, NULL), 28);
    CHECK_EQ_INT(h2.seq, h.seq);
    CHECK_EQ_INT(h2.csrc[1], 2);
    CHECK_EQ_INT(h2.padding_len, 3);
}

static void build_minimal_header(void)
{
    struct rtp_header h = {0};
    h.version = 2;
    h.marker = true;
    h.payload_type = 26;
    h.seq = 0x0102;
    h.timestamp = 0x03040506;
    h.ssrc = 0x0708090a;
    uint8_t out[12];
    const uint8_t want[12] = {0x80, 0x9a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    CHECK_EQ_INT(rtp_build(&h, NULL, 0, out, sizeof(out), NULL), 12);
    CHECK(memcmp(out, want, 12) == 0);
}

static void build_errors(void)
{
    struct rtp_header h = {0};
    struct wire_error e = {0, NULL};
    uint8_t out[32];
    const uint8_t payload[8] = {0};
    h.version = 2;
    CHECK_EQ_INT(rtp_build(&h, payload, 8, out, 19, &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "does not fit") != NULL);
    CHECK_EQ_INT(rtp_build(&h, payload, 8, out, 20, &e), 20);
    h.payload_type = 128;
    CHECK_EQ_INT(rtp_build(&h, NULL, 0, out, sizeof(out), &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "payload type") != NULL);
    h.payload_type = 0;
    h.csrc_count = 16;
    CHECK_EQ_INT(rtp_build(&h, NULL, 0, out, sizeof(out), &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "CSRC") != NULL);
    h.csrc_count = 0;
    h.padding = true;
    CHECK_EQ_INT(rtp_build(&h, NULL, 0, out, sizeof(out), &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "padding length of 0") != NULL);
    h.padding = false;
    h.padding_len = 4;
    CHECK_EQ_INT(rtp_build(&h, NULL, 0, out, sizeof(out), &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "without the padding bit") != NULL);
    h.padding_len = 0;
    h.extension = true;
    h.ext_length = 1;
    CHECK_EQ_INT(rtp_build(&h, NULL, 0, out, sizeof(out), &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "without extension data") != NULL);
    h.extension = false;
    h.version = 4;
    CHECK_EQ_INT(rtp_build(&h, NULL, 0, out, sizeof(out), &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "version") != NULL);
    /* A bad version that fits in 2 bits is allowed, for negative tests. */
    h.version = 1;
    CHECK_EQ_INT(rtp_build(&h, NULL, 0, out, sizeof(out), &e), 12);
    CHECK_EQ_INT(out[0] >> 6, 1);
    CHECK_EQ_INT(rtp_build(&h, NULL, 3, out, sizeof(out), &e), WIRE_ERROR);
}

static void parse_errors_each_have_a_reason_and_offset(void)
{
    struct rtp_header h;
    struct wire_error e = {0, NULL};
    uint8_t p[sizeof(full_packet)];

    CHECK_EQ_INT(rtp_parse(lab_packet, 11, &h, &e), WIRE_ERROR);
    CHECK_EQ_INT(e.offset, 11);
    CHECK(strstr(e.reason, "12-byte") != NULL);
    CHECK_EQ_INT(rtp_parse(lab_packet, 0, &h, &e), WIRE_ERROR);

    memcpy(p, lab_packet, sizeof(lab_packet));
    p[0] = 0x40; /* version 1 */
    CHECK_EQ_INT(rtp_parse(p, sizeof(lab_packet), &h, &e), WIRE_ERROR);
    CHECK_EQ_INT(e.offset, 0);
    CHECK(strstr(e.reason, "version") != NULL);
    p[0] = 0xc0; /* version 3 */
    CHECK_EQ_INT(rtp_parse(p, sizeof(lab_packet), &h, &e), WIRE_ERROR);

    memcpy(p, lab_packet, sizeof(lab_packet));
    p[0] = 0x82; /* CC=2 needs 8 bytes, 4 are there */
    CHECK_EQ_INT(rtp_parse(p, sizeof(lab_packet), &h, &e), WIRE_ERROR);
    CHECK_EQ_INT(e.offset, 12);
    CHECK(strstr(e.reason, "CSRC") != NULL);
    p[0] = 0x81; /* CC=1 fits exactly, empty payload */
    CHECK_EQ_INT(rtp_parse(p, sizeof(lab_packet), &h, &e), 16);
    CHECK_EQ_INT(h.payload_len, 0);

    /* Extension header cut off, then extension data cut off. */
    memcpy(p, full_packet, sizeof(full_packet));
    CHECK_EQ_INT(rtp_parse(p, 22, &h, &e), WIRE_ERROR);
    CHECK_EQ_INT(e.offset, 20);
    CHECK(strstr(e.reason, "extension header") != NULL);
    p[0] = 0x92; /* no padding: lengths below are exact */
    CHECK_EQ_INT(rtp_parse(p, 27, &h, &e), WIRE_ERROR);
    CHECK_EQ_INT(e.offset, 22);
    CHECK(strstr(e.reason, "extension length") != NULL);
    p[23] = 0xff; /* 255 words */
    CHECK_EQ_INT(rtp_parse(p, sizeof(full_packet), &h, &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "extension length") != NULL);

    /* Padding count 0, larger than the payload, and with no byte at all. */
    memcpy(p, full_packet, sizeof(full_packet));
    p[sizeof(full_packet) - 1] = 0;
    CHECK_EQ_INT(rtp_parse(p, sizeof(full_packet), &h, &e), WIRE_ERROR);
    CHECK_EQ_INT(e.offset, sizeof(full_packet) - 1);
    CHECK(strstr(e.reason, "count is 0") != NULL);
    p[sizeof(full_packet) - 1] = 6; /* 5 bytes follow the header */
    CHECK_EQ_INT(rtp_parse(p, sizeof(full_packet), &h, &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "larger than the payload") != NULL);
    p[sizeof(full_packet) - 1] = 5; /* all of the body is padding */
    CHECK_EQ_INT(rtp_parse(p, sizeof(full_packet), &h, &e), 28);
    CHECK_EQ_INT(h.payload_len, 0);
    CHECK_EQ_INT(rtp_parse(p, 28, &h, &e), WIRE_ERROR);
    CHECK(strstr(e.reason, "no room for the padding count") != NULL);
}

static void seq_serial_arithmetic(void)
{
    CHECK_EQ_INT(rtp_seq_diff(1, 0), 1);
    CHECK_EQ_INT(rtp_seq_diff(0, 65535), 1);
    CHECK_EQ_INT(rtp_seq_diff(65535, 0), -1);
    CHECK_EQ_INT(rtp_seq_diff(100, 200), -100);
    CHECK_EQ_INT(rtp_seq_diff(32767, 0), 32767);
    CHECK_EQ_INT(rtp_seq_diff(32768, 0), -32768);
    CHECK(rtp_seq_lt(65535, 0));
    CHECK(!rtp_seq_lt(0, 65535));
    CHECK(!rtp_seq_lt(5, 5));
    CHECK(rtp_seq_lt(5, 6));
}

static void source_probation_then_counting(void)
{
    struct rtp_source s;
    rtp_source_init(&s, 1000, RTP_MIN_SEQUENTIAL);
    CHECK(!rtp_source_update(&s, 1000)); /* on probation */
    CHECK(rtp_source_update(&s, 1001));  /* validated; counting starts here */
    CHECK_EQ_INT(s.base_seq, 1001);
    CHECK(rtp_source_update(&s, 1002));
    CHECK_EQ_INT(s.received, 2);
    CHECK_EQ_INT(rtp_source_ext_max(&s), 1002);
    CHECK_EQ_INT(rtp_source_expected(&s), 2);
    CHECK_EQ_INT(rtp_source_lost(&s), 0);

    /* Not sequential during probation: start the probation over. */
    rtp_source_init(&s, 10, 2);
    CHECK(!rtp_source_update(&s, 10));
    CHECK(!rtp_source_update(&s, 20));
    CHECK(rtp_source_update(&s, 21));
    CHECK_EQ_INT(s.base_seq, 21);

    /* Probation across the wrap (65535 -> 0 is in sequence). */
    rtp_source_init(&s, 65535, 2);
    CHECK(!rtp_source_update(&s, 65535));
    CHECK(rtp_source_update(&s, 0));
    CHECK_EQ_INT(s.base_seq, 0);
}

static void source_counts_from_first_packet_with_min_sequential_1(void)
{
    struct rtp_source s;
    for (unsigned min = 0; min <= 1; min++) {
        rtp_source_init(&s, 1, min);
        CHECK(rtp_source_update(&s, 1));
        CHECK(rtp_source_update(&s, 2));
        CHECK(rtp_source_update(&s, 4)); /* 3 lost */
        CHECK_EQ_INT(s.base_seq, 1);
        CHECK_EQ_INT(rtp_source_expected(&s), 4);
        CHECK_EQ_INT(s.received, 3);
        CHECK_EQ_INT(rtp_source_lost(&s), 1);
    }
}

static void source_wrap_counts_a_cycle(void)
{
    struct rtp_source s;
    rtp_source_init(&s, 65533, 1);
    for (uint32_t i = 65533; i < 65536 + 3; i++)
        CHECK(rtp_source_update(&s, (uint16_t)i));
    CHECK_EQ_INT(s.cycles, 65536);
    CHECK_EQ_INT(s.max_seq, 2);
    CHECK_EQ_INT(rtp_source_ext_max(&s), 65536 + 2);
    CHECK_EQ_INT(rtp_source_expected(&s), 6);
    CHECK_EQ_INT(s.received, 6);
    CHECK_EQ_INT(rtp_source_lost(&s), 0);
}

static void source_duplicate_makes_lost_negative(void)
{
    struct rtp_source s;
    rtp_source_init(&s, 10, 1);
    CHECK(rtp_source_update(&s, 10));
    CHECK(rtp_source_update(&s, 11));
    CHECK(rtp_source_update(&s, 11)); /* duplicate, counted as A.3 says */
    CHECK(rtp_source_update(&s, 12));
    CHECK_EQ_INT(rtp_source_expected(&s), 3);
    CHECK_EQ_INT(s.received, 4);
    CHECK_EQ_INT(rtp_source_lost(&s), -1);
    CHECK_EQ_INT(rtp_source_fraction_lost(&s), 0); /* negative loss reports 0 */
}

static void source_reordering_within_misorder(void)
{
    struct rtp_source s;
    rtp_source_init(&s, 100, 1);
    CHECK(rtp_source_update(&s, 100));
    CHECK(rtp_source_update(&s, 102));
    CHECK(rtp_source_update(&s, 101)); /* late: counted, max unchanged */
    CHECK_EQ_INT(s.max_seq, 102);
    CHECK_EQ_INT(rtp_source_lost(&s), 0);
    /* A late packet 99 back is still misorder, not a restart. */
    for (int i = 103; i <= 200; i++)
        CHECK(rtp_source_update(&s, (uint16_t)i));
    CHECK(rtp_source_update(&s, 102));
    CHECK_EQ_INT(s.max_seq, 200);
    CHECK_EQ_INT(s.resyncs, 0);
    /* 100 back lands in the "large jump" band: dropped until confirmed. */
    CHECK(!rtp_source_update(&s, 100));
}

static void source_big_jump_resyncs_after_two_sequential(void)
{
    struct rtp_source s;
    rtp_source_init(&s, 1, 1);
    CHECK(rtp_source_update(&s, 1));
    CHECK(rtp_source_update(&s, 2));
    CHECK(!rtp_source_update(&s, 40000)); /* jump: not believed yet */
    CHECK_EQ_INT(s.max_seq, 2);
    CHECK_EQ_INT(s.received, 2);
    CHECK(rtp_source_update(&s, 40001)); /* follows the jump: re-sync */
    CHECK_EQ_INT(s.resyncs, 1);
    CHECK_EQ_INT(s.base_seq, 40001);
    CHECK_EQ_INT(s.max_seq, 40001);
    CHECK_EQ_INT(s.received, 1);
    CHECK_EQ_INT(rtp_source_lost(&s), 0);

    /* A jump not followed by its successor stays ignored. */
    CHECK(!rtp_source_update(&s, 5000));
    CHECK(rtp_source_update(&s, 40002));
    CHECK(!rtp_source_update(&s, 5002));
    CHECK_EQ_INT(s.resyncs, 1);
    /* A forward gap just under MAX_DROPOUT is loss, not a jump. */
    CHECK(rtp_source_update(&s, (uint16_t)(40002 + RTP_MAX_DROPOUT - 1)));
    CHECK_EQ_INT(rtp_source_lost(&s), RTP_MAX_DROPOUT - 2);
}

static void fraction_lost_per_interval(void)
{
    struct rtp_source s;
    rtp_source_init(&s, 0, 1);
    /* Interval 1: 0..9 with 2 and 3 missing: 2 of 10 lost. */
    for (int i = 0; i < 10; i++)
        if (i != 2 && i != 3)
            rtp_source_update(&s, (uint16_t)i);
    CHECK_EQ_INT(rtp_source_fraction_lost(&s), (2 << 8) / 10);
    /* Interval 2: 10..13 all there. */
    for (int i = 10; i < 14; i++)
        rtp_source_update(&s, (uint16_t)i);
    CHECK_EQ_INT(rtp_source_fraction_lost(&s), 0);
    /* Interval 3: nothing arrived. */
    CHECK_EQ_INT(rtp_source_fraction_lost(&s), 0);
    /* Interval 4: 14..17, only 17 arrived: 3 of 4 lost. */
    rtp_source_update(&s, 17);
    CHECK_EQ_INT(rtp_source_fraction_lost(&s), (3 << 8) / 4);
    CHECK_EQ_INT(rtp_source_lost(&s), 5);
}

static void jitter_zero_for_perfect_pacing(void)
{
    struct rtp_jitter j;
    rtp_jitter_init(&j);
    /* 20 fps at 90 kHz: 50 ms and 4500 ticks per frame. */
    for (uint32_t i = 0; i < 50; i++)
        CHECK(rtp_jitter_update(&j, 1000000000ull + i * 50000000ull, 0xfffff000u + i * 4500, 90000));
    CHECK(j.jitter < 1e-9);
    CHECK_EQ_INT(rtp_jitter_rr(&j), 0);
    CHECK(!rtp_jitter_update(&j, 0, 0, 0));
}

static void jitter_follows_a8(void)
{
    struct rtp_jitter j;
    rtp_jitter_init(&j);
    /* 8 kHz clock; second packet arrives 10 ms late: D = 80 ticks. */
    CHECK(rtp_jitter_update(&j, 0, 0, 8000));
    CHECK(rtp_jitter_update(&j, 30000000, 160, 8000));
    CHECK(j.last_d > 79.999 && j.last_d < 80.001);
    CHECK(j.jitter > 4.999 && j.jitter < 5.001); /* 80 / 16 */
    /* Back on schedule: D = -80, J = 5 + (80 - 5) / 16 = 9.6875. */
    CHECK(rtp_jitter_update(&j, 40000000, 320, 8000));
    CHECK(j.last_d < -79.999 && j.last_d > -80.001);
    CHECK(j.jitter > 9.6874 && j.jitter < 9.6876);
    CHECK_EQ_INT(rtp_jitter_rr(&j), 9);
    double ns = rtp_jitter_ns(&j, 8000);
    CHECK(ns > 1210937 && ns < 1210938); /* 9.6875 / 8000 s */
}

static void jitter_of_a_one_hertz_lab_stream(void)
{
    struct rtp_jitter j;
    rtp_jitter_init(&j);
    /* Lab timestamps are wall seconds: 20 packets share one timestamp, then
     * the timestamp steps by one. The running jitter grows to a large
     * fraction of a tick, which is what an analyzer must be able to show. */
    for (uint32_t i = 0; i < 40; i++)
        rtp_jitter_update(&j, i * 50000000ull, 1700000000u + i / 20, 1);
    CHECK(j.jitter > 0.05 && j.jitter < 1.0);
}

int main(void)
{
    RUN(parse_lab_packet_fields);
    RUN(parse_every_field);
    RUN(build_round_trips_every_field);
    RUN(build_minimal_header);
    RUN(build_errors);
    RUN(parse_errors_each_have_a_reason_and_offset);
    RUN(seq_serial_arithmetic);
    RUN(source_probation_then_counting);
    RUN(source_counts_from_first_packet_with_min_sequential_1);
    RUN(source_wrap_counts_a_cycle);
    RUN(source_duplicate_makes_lost_negative);
    RUN(source_reordering_within_misorder);
    RUN(source_big_jump_resyncs_after_two_sequential);
    RUN(fraction_lost_per_interval);
    RUN(jitter_zero_for_perfect_pacing);
    RUN(jitter_follows_a8);
    RUN(jitter_of_a_one_hertz_lab_stream);
    CHECK_DONE();
}
