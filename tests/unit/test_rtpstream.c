/* Unit tests for the RTP stream analysis (harness/analyze/rtpstream.c),
 * fed synthetic packets built with rtp_build and the RFC 2435 packetizer
 * on numbered test-pattern frames: a clean stream that raises nothing;
 * loss, reordering, duplicates and their counts; sequence wrap and A.1
 * re-syncs; the initial sequence number; version, malformed and empty
 * packets; payload type; tshark's jitter on a hand-computed arrival
 * schedule; the timestamp clock; marker and frame timestamps; incomplete
 * and undecodable frames; decode modes; the lab dialect and fixture
 * numbering; exact and histogram percentiles and stalls; the bitrate
 * series; PAUSE/TEARDOWN windows; SR counts; and a 2,000,000-packet stream
 * whose memory stays flat. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "rtcp.h"
#include "rtpstream_sim.h"

#define MAX_PAYLOAD 400 /* RFC 2435 payload per packet: several packets per 64x48 frame */

static struct pattern_encoder enc;       /* 64x48 frames */
static struct pattern_encoder enc_tiny;  /* 16x16 frames: one RFC 2435 packet each */

static const struct rtp_stream_metrics *M(const struct sim *x)
{
    return rtp_stream_metrics(x->s);
}

static uint64_t count(const struct sim *x, enum check_id c)
{
    return x->f.count[c];
}

static uint64_t count_all(const struct sim *x)
{
    uint64_t n = 0;
    for (int i = 0; i < CHK_COUNT; i++)
        n += x->f.count[i];
    return n;
}

/* The first kept finding of check c, or NULL. */
static const struct finding *first(const struct sim *x, enum check_id c)
{
    for (size_t i = 0; i < x->f.len; i++)
        if (x->f.items[i].check == c)
            return &x->f.items[i];
    return NULL;
}

static bool detail_has(const struct sim *x, enum check_id c, const char *text)
{
    const struct finding *fd = first(x, c);
    if (!fd) {
        fprintf(stderr, "  no %s finding\n", check_catalog[c].id);
        return false;
    }
    if (!strstr(fd->detail, text)) {
        fprintf(stderr, "  %s detail \"%s\" lacks \"%s\"\n", check_catalog[c].id, fd->detail, text);
        return false;
    }
    return true;
}

static void dump(const struct sim *x)
{
    for (size_t i = 0; i < x->f.len; i++)
        fprintf(stderr, "    %s frame %llu: %s\n", check_catalog[x->f.items[i].check].id,
                (unsigned long long)x->f.items[i].frame, x->f.items[i].detail);
}

static const uint8_t filler[1500];

/* A non-JPEG packet (PT 96): sequence, timing and loss only. */
static void send_plain(struct sim *x, uint16_t seq, uint32_t ts, int64_t t_ns)
{
    send_pkt(x, seq, ts, false, 96, filler, 100, t_ns);
}

/* Every payload of fr, 1 ms apart from t_ns; skip < 0 sends all, else that
 * packet is left out. Returns the next sequence number. */
static uint16_t send_frame(struct sim *x, const struct tframe *fr, uint16_t seq, uint32_t ts, int64_t t_ns,
                           long skip)
{
    for (size_t i = 0; i < fr->n; i++, seq++) {
        if ((long)i == skip)
            continue;
        send_pkt(x, seq, ts, i + 1 == fr->n, 26, fr->pl[i], fr->pl_len[i], t_ns + (int64_t)i * MS);
    }
    return seq;
}

static struct rtp_stream_opts rfc_opts(void)
{
    return (struct rtp_stream_opts){.expected_pt = 26, .clock_rate = 0, .lab = false,
                                    .nominal_fps = 20, .decode = DECODE_NONE};
}

static struct rtp_stream_opts plain_opts(void)
{
    return (struct rtp_stream_opts){.expected_pt = 96, .clock_rate = 90000, .lab = false,
                                    .nominal_fps = 0, .decode = DECODE_NONE};
}

static struct rtp_stream_opts lab_opts(void)
{
    return (struct rtp_stream_opts){.expected_pt = 26, .clock_rate = 0, .lab = true,
                                    .nominal_fps = 20, .decode = DECODE_NONE};
}

/* ---- cases ---------------------------------------------------------------- */

static void test_clean_rfc2435_stream_raises_nothing(void)
{
    struct rtp_stream_opts o = rfc_opts();
    o.decode = DECODE_SAMPLE;
    struct sim x;
    sim_open(&x, &o);
    uint16_t seq = 40000;
    uint64_t packets = 0, bytes = 0;
    for (uint32_t i = 0; i < 60; i++) {
        struct tframe fr;
        frame_make(&enc, i + 1, MAX_PAYLOAD, &fr);
        packets += fr.n;
        for (size_t k = 0; k < fr.n; k++)
            bytes += fr.pl_len[k];
        seq = send_frame(&x, &fr, seq, 123456u + 4500u * i, (int64_t)i * 50 * MS, -1);
        frame_free(&fr);
    }
    rtp_stream_finish(x.s, &x.f);
    const struct rtp_stream_metrics *m = M(&x);
    if (count_all(&x))
        dump(&x);
    CHECK_EQ_INT(count_all(&x), 0);
    CHECK(m->started);
    CHECK_EQ_INT(m->ssrc, SSRC);
    CHECK_EQ_INT(m->payload_type, 26);
    CHECK_EQ_INT(m->clock_rate, 90000);
    CHECK_EQ_INT(m->packets, packets);
    CHECK(packets > 120); /* several packets per frame */
    CHECK_EQ_INT(m->expected, packets);
    CHECK_EQ_INT(m->lost, 0);
    CHECK_EQ_INT(m->duplicates, 0);
    CHECK_EQ_INT(m->reordered, 0);
    CHECK_EQ_INT(m->bytes, bytes);
    CHECK_EQ_INT(m->frames.complete, 60);
    CHECK_EQ_INT(m->frames.incomplete, 0);
    CHECK_EQ_INT(m->frames.decoded, 4); /* frames 0, 16, 32, 48 */
    CHECK_EQ_INT(m->frames.undecodable, 0);
    CHECK_EQ_INT(m->frames.interval_ms.count, 59);
    CHECK(m->frames.fps > 19.0 && m->frames.fps < 21.0);
    CHECK(m->frames.have_nominal && !m->frames.nominal_estimated);
    CHECK(fabs(m->frames.nominal_interval_ms - 50.0) < 1e-9);
    CHECK_EQ_INT(m->frames.stalls, 0);
    CHECK(!m->frames.numbered.present); /* RFC 2435 does not carry the COM marker */
    CHECK_EQ_INT(m->first_ns, T0);
    CHECK(m->last_ns > T0 + 59 * 50 * MS);
    sim_close(&x);
}

static void test_gap_counts_loss_and_names_the_range(void)
{
    struct rtp_stream_opts o = plain_opts();
    struct sim x;
    sim_open(&x, &o);
    uint64_t gap_frame = 0;
    for (uint16_t s = 1000; s < 1100; s++) {
        if (s == 1010 || (s >= 1020 && s <= 1022))
            continue;
        send_plain(&x, s, 4500u * s, (int64_t)s * 50 * MS);
        if (s == 1011)
            gap_frame = x.frame;
    }
    rtp_stream_finish(x.s, &x.f);
    const struct rtp_stream_metrics *m = M(&x);
    CHECK_EQ_INT(m->packets, 96);
    CHECK_EQ_INT(m->expected, 100);
    CHECK_EQ_INT(m->lost, 4);
    CHECK(fabs(m->loss_rate - 0.04) < 1e-12);
    CHECK_EQ_INT(count(&x, CHK_RTP_SEQ_GAP), 2);
    const struct finding *g = first(&x, CHK_RTP_SEQ_GAP);
    CHECK(g && g->frame == gap_frame);
    CHECK(g && strcmp(g->where, WHERE) == 0);
    CHECK(detail_has(&x, CHK_RTP_SEQ_GAP, "expected seq 1010, got 1011 (1 lost: 1010)"));
    CHECK(x.f.len >= 2 && strstr(x.f.items[1].detail, "(3 lost: 1020-1022)"));
    CHECK_EQ_INT(count(&x, CHK_RTP_SEQ_REORDER) + count(&x, CHK_RTP_SEQ_DUPLICATE), 0);
    sim_close(&x);
}

static void test_reorder_and_duplicates_are_counted(void)
{
    struct rtp_stream_opts o = plain_opts();
    struct sim x;
    sim_open(&x, &o);
    static const uint16_t order[] = {500, 501, 502, 503, 504, 505, 507, 506, 508, 508, 509,
                                     510, 503, 511, 512, 513, 514, 515, 516, 517, 518, 519};
    int64_t t = 0;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++, t += 50 * MS)
        send_plain(&x, order[i], 4500u * order[i], t);
    rtp_stream_finish(x.s, &x.f);
    const struct rtp_stream_metrics *m = M(&x);
    CHECK_EQ_INT(m->packets, 22);
    CHECK_EQ_INT(m->expected, 20);
    CHECK_EQ_INT(m->lost, -2); /* A.3: duplicates count as received, never clamped */
    CHECK(m->loss_rate < 0);
    CHECK_EQ_INT(m->reordered, 1);
    CHECK_EQ_INT(m->duplicates, 2);
    CHECK_EQ_INT(count(&x, CHK_RTP_SEQ_REORDER), 1);
    CHECK_EQ_INT(count(&x, CHK_RTP_SEQ_DUPLICATE), 2);
    CHECK_EQ_INT(count(&x, CHK_RTP_SEQ_GAP), 1); /* 507 before 506 */
    CHECK(detail_has(&x, CHK_RTP_SEQ_REORDER, "seq 506 arrived after seq 507 (1 behind)"));
    CHECK(detail_has(&x, CHK_RTP_SEQ_DUPLICATE, "seq 508 received again"));
    sim_close(&x);
}

static void test_window_edges_tell_late_and_early_packets(void)
{
    struct rtp_stream_opts o = plain_opts();
    struct sim x;
    sim_open(&x, &o);
    /* Nothing is behind or before anything until a packet arrived. */
    CHECK(!rtp_stream_seq_behind(x.s, 10));
    CHECK(!rtp_stream_seq_before_first(x.s, 10));
    int64_t t = 0;
    for (uint16_t q = 65530; q != 4; q++, t += 50 * MS) /* across the wrap */
        send_plain(&x, q, 4500u * q, t);
    CHECK(rtp_stream_seq_behind(x.s, 2));      /* 65530 .. 3 received: 2 is late */
    CHECK(rtp_stream_seq_behind(x.s, 65531));
    CHECK(!rtp_stream_seq_behind(x.s, 4));     /* new */
    CHECK(!rtp_stream_seq_behind(x.s, 3));     /* the highest itself */
    CHECK(rtp_stream_seq_before_first(x.s, 65529));
    CHECK(!rtp_stream_seq_before_first(x.s, 65530));
    CHECK(!rtp_stream_seq_before_first(x.s, 1));
    sim_close(&x);
}

static void test_sequence_wrap(void)
{
    struct rtp_stream_opts o = plain_opts();
    struct sim x;
    sim_open(&x, &o);
    uint16_t s = 65525;
    for (int i = 0; i < 20; i++, s++)
        if (s != 65535 && s != 0)
            send_plain(&x, s, 4500u * (uint32_t)i, (int64_t)i * 50 * MS);
    rtp_stream_finish(x.s, &x.f);
    const struct rtp_stream_metrics *m = M(&x);
    CHECK_EQ_INT(m->packets, 18);
    CHECK_EQ_INT(m->expected, 20);
    CHECK_EQ_INT(m->lost, 2);
    CHECK_EQ_INT(count(&x, CHK_RTP_SEQ_GAP), 1);
    CHECK(detail_has(&x, CHK_RTP_SEQ_GAP, "expected seq 65535, got 1 (2 lost: 65535-0)"));
    CHECK_EQ_INT(count(&x, CHK_RTP_SEQ_INITIAL), 0);
    sim_close(&x);
}

static void test_resync_keeps_earlier_loss(void)
{
    struct rtp_stream_opts o = plain_opts();
    struct sim x;
    sim_open(&x, &o);
    int64_t t = 0;
    for (uint16_t s = 100; s < 150; s++, t += 50 * MS)
        if (s != 120)
            send_plain(&x, s, 4500u * s, t);
    for (uint16_t s = 20000; s < 20050; s++, t += 50 * MS)
        send_plain(&x, s, 4500u * s, t);
    rtp_stream_finish(x.s, &x.f);
    const struct rtp_stream_metrics *m = M(&x);
    CHECK_EQ_INT(m->packets, 99);
    CHECK_EQ_INT(m->resyncs, 1);
    CHECK_EQ_INT(m->uncounted, 1);  /* 20000: the jump, before 20001 confirmed it */
    CHECK_EQ_INT(m->expected, 99);  /* 100..149, then 20001..20049 */
    CHECK_EQ_INT(m->lost, 1);       /* 120, still counted after the restart */
    CHECK_EQ_INT(count(&x, CHK_RTP_SEQ_GAP), 2);
    CHECK(x.f.len >= 2 && strstr(x.f.items[1].detail, "jump of 19851"));
    sim_close(&x);

    /* A restart backwards (the video looped): one reorder finding, and the
     * jump back is not left counted as a late packet. */
    sim_open(&x, &o);
    t = 0;
    for (uint16_t s = 5000; s < 5050; s++, t += 50 * MS)
        send_plain(&x, s, 4500u * s, t);
    for (uint16_t s = 100; s < 150; s++, t += 50 * MS)
        send_plain(&x, s, 4500u * s, t);
    rtp_stream_finish(x.s, &x.f);
    m = M(&x);
    CHECK_EQ_INT(m->resyncs, 1);
    CHECK_EQ_INT(m->reordered, 0);
    CHECK_EQ_INT(m->expected, 99);
    CHECK_EQ_INT(m->lost, 0);
    CHECK_EQ_INT(count(&x, CHK_RTP_SEQ_REORDER), 1);
    CHECK(detail_has(&x, CHK_RTP_SEQ_REORDER, "seq 100 arrived after seq 5049 (4949 behind"));
    sim_close(&x);
}

static void test_initial_sequence_number(void)
{
    static const struct { uint16_t seq; int fires; } cases[] = {{0, 1}, {1, 1}, {2, 0}, {31337, 0}};
    for (size_t i = 0; i < 4; i++) {
        struct rtp_stream_opts o = plain_opts();
        struct sim x;
        sim_open(&x, &o);
        for (uint16_t k = 0; k < 5; k++)
            send_plain(&x, (uint16_t)(cases[i].seq + k), 4500u * k, (int64_t)k * 50 * MS);
        rtp_stream_finish(x.s, &x.f);
        CHECK_EQ_INT(count(&x, CHK_RTP_SEQ_INITIAL), cases[i].fires);
        CHECK_EQ_INT(count_all(&x), cases[i].fires);
        if (cases[i].fires)
            CHECK(first(&x, CHK_RTP_SEQ_INITIAL)->frame == 1);
        sim_close(&x);
    }
}

/* Packets the capture cut (a 60-byte snap length over 1,000-byte RFC 2435
 * packets): their headers count and their wire bytes do, and nothing is
 * called malformed or an incomplete frame; the one whose header itself was
 * cut is skipped. */
static void test_packets_the_capture_cut_keep_their_headers_and_blame_nobody(void)
{
    struct rtp_stream_opts o = rfc_opts();
    struct sim x;
    sim_open(&x, &o);
    uint8_t pkt[60] = {0x80, 26};
    for (uint16_t k = 0; k < 10; k++) {
        uint16_t seq = (uint16_t)(100 + k);
        uint32_t ts = 4500u * (k / 2u);
        pkt[1] = (uint8_t)(26 | (k % 2 ? 0x80 : 0)); /* two packets a frame, marker on the second */
        pkt[2] = (uint8_t)(seq >> 8);
        pkt[3] = (uint8_t)seq;
        wire_put_be32(pkt + 4, ts);
        wire_put_be32(pkt + 8, 0x1234);
        memset(pkt + 12, 0xff, sizeof pkt - 12); /* cut RFC 2435 header and scan data */
        rtp_stream_packet_cut(x.s, pkt, sizeof pkt, 1000, T0 + (int64_t)k * 25 * MS, ++x.frame, &x.f);
    }
    rtp_stream_packet_cut(x.s, pkt, 8, 1000, T0 + 260 * MS, ++x.frame, &x.f);
    rtp_stream_finish(x.s, &x.f);
    CHECK_EQ_INT(M(&x)->packets, 10);
    CHECK_EQ_INT(M(&x)->bytes, 10 * (1000 - 12));
    CHECK_EQ_INT(M(&x)->malformed, 0);
    CHECK_EQ_INT(count_all(&x), 0);
    sim_close(&x);
    /* The same bytes uncut are the sender's: malformed. */
    sim_open(&x, &o);
    rtp_stream_packet(x.s, pkt, sizeof pkt, T0, ++x.frame, &x.f);
    rtp_stream_finish(x.s, &x.f);
    CHECK(count_all(&x) > 0);
    sim_close(&x);
}

static void test_version_malformed_and_empty_packets(void)
{
    struct rtp_stream_opts o = rfc_opts();
    struct sim x;
    sim_open(&x, &o);
    uint8_t v1[20] = {0x40, 26};
    rtp_stream_packet(x.s, v1, sizeof v1, T0, ++x.frame, &x.f);
    CHECK_EQ_INT(count(&x, CHK_RTP_VERSION), 1);
    CHECK(detail_has(&x, CHK_RTP_VERSION, "RTP version 1, expected 2"));
    uint8_t cc[12] = {0x83, 26}; /* three CSRCs that are not there */
    rtp_stream_packet(x.s, cc, sizeof cc, T0, ++x.frame, &x.f);
    rtp_stream_packet(x.s, NULL, 0, T0, ++x.frame, &x.f);
    CHECK_EQ_INT(count(&x, CHK_RTP_MALFORMED), 2);
    CHECK(detail_has(&x, CHK_RTP_MALFORMED, "CSRC"));
    CHECK(!M(&x)->started);
    CHECK_EQ_INT(M(&x)->packets, 0);
    CHECK_EQ_INT(M(&x)->malformed, 3);
    /* A well-formed RTP packet with no payload: counted, the RFC 2435
     * payload is malformed, nothing breaks. */
    send_pkt(&x, 7000, 1, true, 26, NULL, 0, 10 * MS);
    CHECK_EQ_INT(M(&x)->packets, 1);
    CHECK_EQ_INT(M(&x)->bytes, 0);
    CHECK_EQ_INT(count(&x, CHK_RTP_MALFORMED), 3);
    rtp_stream_finish(x.s, &x.f);
    CHECK_EQ_INT(M(&x)->frames.complete + M(&x)->frames.incomplete, 0);
    sim_close(&x);

    /* The same in the lab dialect is an incomplete frame. */
    o = lab_opts();
    sim_open(&x, &o);
    send_pkt(&x, 1, 1700000000u, false, 26, NULL, 0, 0);
    rtp_stream_finish(x.s, &x.f);
    CHECK_EQ_INT(M(&x)->frames.incomplete, 1);
    CHECK(detail_has(&x, CHK_FRAME_INCOMPLETE, "does not start with a JPEG SOI"));
    sim_close(&x);

    /* Nothing at all: finish and metrics still work. */
    sim_open(&x, &o);
    rtp_stream_finish(x.s, &x.f);
    CHECK(!M(&x)->started);
    CHECK_EQ_INT(count_all(&x), 0);
    sim_close(&x);
}

static void test_payload_type(void)
{
    struct rtp_stream_opts o = plain_opts();
    o.expected_pt = 26;
    struct sim x;
    sim_open(&x, &o);
    static const uint8_t pts[] = {26, 26, 26, 96, 96, 26, 26, 97};
    for (uint16_t i = 0; i < sizeof pts; i++)
        send_pkt(&x, (uint16_t)(3000 + i), 4500u * i, false, pts[i], filler, 8, (int64_t)i * 50 * MS);
    CHECK_EQ_INT(count(&x, CHK_RTP_PAYLOAD_TYPE), 2); /* one per run of a wrong PT */
    CHECK(detail_has(&x, CHK_RTP_PAYLOAD_TYPE, "payload type 96, expected 26"));
    CHECK(first(&x, CHK_RTP_PAYLOAD_TYPE)->frame == 4);
    sim_close(&x);

    o.expected_pt = -1; /* unknown: the stream's first PT is the reference */
    sim_open(&x, &o);
    for (uint16_t i = 0; i < 4; i++)
        send_pkt(&x, (uint16_t)(3000 + i), 4500u * i, false, i < 2 ? 96 : 97, filler, 8,
                 (int64_t)i * 50 * MS);
    CHECK_EQ_INT(count(&x, CHK_RTP_PAYLOAD_TYPE), 1);
    CHECK(detail_has(&x, CHK_RTP_PAYLOAD_TYPE, "payload type 97, expected 96 (the stream's first)"));
    sim_close(&x);
}

/* Arrivals 0, 50, 110, 150, 200 ms for timestamps 50 ms apart (4500 ticks
 * at 90 kHz). By hand, D = 0, 10, 10, 0 ms, so J = 0, 10/16 = 0.625,
 * (15 * 0.625 + 10) / 16 = 1.2109375, 15 * 1.2109375 / 16 = 1.13525390625;
 * tshark's mean with n packets before each: 0, (0 + 0.625) / 2 = 0.3125,
 * (0.3125 * 2 + 1.2109375) / 3, (... * 3 + 1.13525390625) / 4. */
static void test_jitter_matches_tshark_by_hand(void)
{
    static const int64_t at_ms[] = {0, 50, 110, 150, 200};
    struct rtp_stream_opts o = plain_opts();
    struct sim x;
    sim_open(&x, &o);
    for (int i = 0; i < 5; i++)
        send_plain(&x, (uint16_t)(800 + i), 1000000u + 4500u * (uint32_t)i, at_ms[i] * MS);
    const struct rtp_stream_metrics *m = M(&x);
    CHECK(fabs(m->max_jitter_ms - 1.2109375) < 1e-9);
    CHECK(fabs(m->mean_jitter_ms - 0.7427978515625) < 1e-9);
    CHECK(fabs(m->max_jitter_ts - 1.2109375 * 90) < 1e-6);
    CHECK(fabs(m->mean_jitter_ts - 0.7427978515625 * 90) < 1e-6);
    CHECK(fabs(m->min_delta_ms - 40) < 1e-9);
    CHECK(fabs(m->max_delta_ms - 60) < 1e-9);
    CHECK(fabs(m->mean_delta_ms - 50) < 1e-9);
    sim_close(&x);

    /* A marker packet (the 4th) still moves J but is not averaged: mean
     * (0.3125 * 3 + 1.13525390625) / 4, max the last J. */
    sim_open(&x, &o);
    for (int i = 0; i < 5; i++)
        send_pkt(&x, (uint16_t)(800 + i), 1000000u + 4500u * (uint32_t)i, i == 3, 96, filler, 100,
                 at_ms[i] * MS);
    CHECK(fabs(M(&x)->max_jitter_ms - 1.13525390625) < 1e-9);
    CHECK(fabs(M(&x)->mean_jitter_ms - 0.5181884765625) < 1e-9);
    sim_close(&x);

    /* A late packet older than the first changes nothing but the packet
     * count the mean divides by: (0.3125 * 3 + 1.2109375) / 4 = 0.537109375
     * then (0.537109375 * 4 + 1.13525390625) / 5 = 0.65673828125. */
    sim_open(&x, &o);
    for (int i = 0; i < 5; i++) {
        send_plain(&x, (uint16_t)(800 + i), 1000000u + 4500u * (uint32_t)i, at_ms[i] * MS);
        if (i == 2)
            send_plain(&x, 799, 1000000u - 4500u, 120 * MS);
    }
    CHECK(fabs(M(&x)->max_jitter_ms - 1.2109375) < 1e-9);
    CHECK(fabs(M(&x)->mean_jitter_ms - 0.65673828125) < 1e-9);
    CHECK(fabs(M(&x)->min_delta_ms - 10) < 1e-9); /* ours: capture order, every packet */
    CHECK(fabs(M(&x)->max_delta_ms - 60) < 1e-9);
    sim_close(&x);
}

static void test_timestamp_clock(void)
{
    /* {clock ticks per 50 ms, packets, fires} */
    static const struct { double ticks; int packets; int fires; } cases[] = {
        {4500, 60, 0},   /* 90 kHz */
        {50, 60, 1},     /* 1000 Hz */
        {0.05, 60, 1},   /* 1 Hz wall clock */
        {3000, 60, 1},   /* seq x 3000 at 20 fps: 60 kHz */
        {0.05, 30, 0},   /* 1.5 s: too short to judge */
        {4500 * 1.1, 60, 0}, /* 10% fast: within tolerance */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct rtp_stream_opts o = plain_opts();
        struct sim x;
        sim_open(&x, &o);
        for (int i = 0; i < cases[c].packets; i++)
            send_plain(&x, (uint16_t)(900 + i), 1700000000u + (uint32_t)floor(cases[c].ticks * i),
                       (int64_t)i * 50 * MS);
        rtp_stream_finish(x.s, &x.f);
        CHECK_EQ_INT(count(&x, CHK_RTP_TS_CLOCK), cases[c].fires);
        if (cases[c].fires)
            CHECK(detail_has(&x, CHK_RTP_TS_CLOCK, "expected 90000 Hz"));
        sim_close(&x);
    }
    /* Paused for 10 s with the timestamps standing still: not a clock error. */
    struct rtp_stream_opts o = plain_opts();
    struct sim x;
    sim_open(&x, &o);
    for (int i = 0; i < 80; i++)
        send_plain(&x, (uint16_t)(900 + i), 4500u * (uint32_t)i,
                   (int64_t)i * 50 * MS + (i >= 40 ? 10000 * MS : 0));
    rtp_stream_finish(x.s, &x.f);
    CHECK_EQ_INT(count(&x, CHK_RTP_TS_CLOCK), 0);
    sim_close(&x);
    /* The lab's 1 Hz clock is named as such. */
    o = lab_opts();
    sim_open(&x, &o);
    struct tframe fr;
    frame_make(&enc, 1, MAX_PAYLOAD, &fr);
    for (int i = 0; i < 60; i++)
        send_pkt(&x, (uint16_t)(i + 1), 1700000000u + (uint32_t)(i / 20), false, 26, fr.jpeg, fr.len,
                 (int64_t)i * 50 * MS);
    frame_free(&fr);
    rtp_stream_finish(x.s, &x.f);
    CHECK_EQ_INT(count(&x, CHK_RTP_TS_CLOCK), 1);
    CHECK(detail_has(&x, CHK_RTP_TS_CLOCK, "lab: wall-clock timestamps"));
    sim_close(&x);
}

/* rtp.timestamp.advance: the lab's 1 Hz clock is fine; a frozen one over
 * 3 s, or one that goes back, is found; a pause is no break. */
static void test_timestamp_advance(void)
{
    static const struct { const char *what; int mode; int fires; const char *detail; } cases[] = {
        {"1 Hz wall clock", 0, 0, NULL},
        {"frozen", 1, 1, "timestamp stays 1700000000 over 3.0 s"},
        {"back at packet 30", 2, 1, "went back from 1700000001 to 1699999000"},
        {"frozen for 1 s only", 3, 0, NULL},
    };
    struct tframe fr;
    frame_make(&enc, 1, MAX_PAYLOAD, &fr);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct rtp_stream_opts o = lab_opts();
        struct sim x;
        sim_open(&x, &o);
        int packets = cases[c].mode == 3 ? 21 : 61;
        for (int i = 0; i < packets; i++) {
            uint32_t ts = 1700000000u + (uint32_t)(i / 20);
            if (cases[c].mode == 1 || cases[c].mode == 3)
                ts = 1700000000u;
            if (cases[c].mode == 2 && i == 30)
                ts = 1699999000u;
            send_pkt(&x, (uint16_t)(i + 1), ts, false, 26, fr.jpeg, fr.len, (int64_t)i * 50 * MS);
        }
        rtp_stream_finish(x.s, &x.f);
        if ((int)count(&x, CHK_RTP_TS_ADVANCE) != cases[c].fires) {
            fprintf(stderr, "  case %s:\n", cases[c].what);
            dump(&x);
        }
        CHECK_EQ_INT(count(&x, CHK_RTP_TS_ADVANCE), cases[c].fires);
        if (cases[c].detail)
            CHECK(detail_has(&x, CHK_RTP_TS_ADVANCE, cases[c].detail));
        sim_close(&x);
    }
    frame_free(&fr);
}

static void test_marker_and_frame_timestamp(void)
{
    struct tframe fr[4];
    for (uint32_t i = 0; i < 4; i++) {
        frame_make(&enc, 100 + i, MAX_PAYLOAD, &fr[i]);
        CHECK(fr[i].n >= 3);
    }
    struct rtp_stream_opts o = rfc_opts();
    struct sim x;

    /* Frame 1 ends without the marker. */
    sim_open(&x, &o);
    uint16_t seq = 2000;
    seq = send_frame(&x, &fr[0], seq, 9000, 0, -1);
    uint64_t last_of_1 = 0;
    for (size_t i = 0; i < fr[1].n; i++, seq++) {
        send_pkt(&x, seq, 13500, false, 26, fr[1].pl[i], fr[1].pl_len[i], 50 * MS + (int64_t)i * MS);
        last_of_1 = x.frame;
    }
    seq = send_frame(&x, &fr[2], seq, 18000, 100 * MS, -1);
    rtp_stream_finish(x.s, &x.f);
    CHECK_EQ_INT(count(&x, CHK_RTP_MARKER), 1);
    CHECK(first(&x, CHK_RTP_MARKER) && first(&x, CHK_RTP_MARKER)->frame == last_of_1);
    CHECK(detail_has(&x, CHK_RTP_MARKER, "ends frame ts 13500 without the marker"));
    CHECK_EQ_INT(count(&x, CHK_RTP_TS_FRAME), 0);
    CHECK_EQ_INT(M(&x)->frames.complete, 2);
    CHECK_EQ_INT(M(&x)->frames.incomplete, 1);
    CHECK(detail_has(&x, CHK_FRAME_INCOMPLETE, "(no marker packet)"));
    sim_close(&x);

    /* The middle packet of frame 1 carries another timestamp. */
    sim_open(&x, &o);
    seq = 2000;
    seq = send_frame(&x, &fr[0], seq, 9000, 0, -1);
    for (size_t i = 0; i < fr[1].n; i++, seq++)
        send_pkt(&x, seq, i == 1 ? 13501 : 13500, i + 1 == fr[1].n, 26, fr[1].pl[i], fr[1].pl_len[i],
                 50 * MS + (int64_t)i * MS);
    seq = send_frame(&x, &fr[2], seq, 18000, 100 * MS, -1);
    rtp_stream_finish(x.s, &x.f);
    CHECK_EQ_INT(count(&x, CHK_RTP_TS_FRAME), 2); /* 13500 -> 13501 and back, both mid-frame */
    CHECK(detail_has(&x, CHK_RTP_TS_FRAME, "with timestamp 13501, the frame's is 13500"));
    CHECK_EQ_INT(count(&x, CHK_RTP_MARKER), 0);
    /* The depacketizer sees three frames, none whole. */
    CHECK_EQ_INT(M(&x)->frames.complete, 2);
    CHECK_EQ_INT(M(&x)->frames.incomplete, 3);
    sim_close(&x);

    /* The marker set on the first packet of a frame. */
    sim_open(&x, &o);
    seq = 2000;
    seq = send_frame(&x, &fr[0], seq, 9000, 0, -1);
    for (size_t i = 0; i < fr[1].n; i++, seq++)
        send_pkt(&x, seq, 13500, i == 0 || i + 1 == fr[1].n, 26, fr[1].pl[i], fr[1].pl_len[i],
                 50 * MS + (int64_t)i * MS);
    seq = send_frame(&x, &fr[2], seq, 18000, 100 * MS, -1);
    rtp_stream_finish(x.s, &x.f);
    CHECK_EQ_INT(count(&x, CHK_RTP_MARKER), 1);
    CHECK(detail_has(&x, CHK_RTP_MARKER, "in the middle of frame ts 13500"));
    CHECK_EQ_INT(count(&x, CHK_RTP_TS_FRAME), 0);
    /* The marker packet closed a (truncated) frame; the rest of it is a
     * frame without its start. */
    CHECK_EQ_INT(M(&x)->frames.complete, 3);
    CHECK_EQ_INT(M(&x)->frames.incomplete, 1);
    sim_close(&x);
    for (int i = 0; i < 4; i++)
        frame_free(&fr[i]);
}

static void test_incomplete_frames(void)
{
    struct tframe fr[4];
    for (uint32_t i = 0; i < 4; i++)
        frame_make(&enc, 200 + i, MAX_PAYLOAD, &fr[i]);
    struct rtp_stream_opts o = rfc_opts();
    struct sim x;
    sim_open(&x, &o);
    uint16_t seq = 100;
    seq = send_frame(&x, &fr[0], seq, 0, 0, -1);
    seq = send_frame(&x, &fr[1], seq, 4500, 50 * MS, 1); /* second fragment lost */
    seq = send_frame(&x, &fr[2], seq, 9000, 100 * MS, -1);
    /* The capture ends in the middle of the last frame. */
    for (size_t i = 0; i + 1 < fr[3].n; i++, seq++)
        send_pkt(&x, seq, 13500, false, 26, fr[3].pl[i], fr[3].pl_len[i], 150 * MS + (int64_t)i * MS);
    rtp_stream_finish(x.s, &x.f);
    CHECK_EQ_INT(M(&x)->frames.complete, 2);
    CHECK_EQ_INT(M(&x)->frames.incomplete, 2);
    CHECK_EQ_INT(count(&x, CHK_FRAME_INCOMPLETE), 2);
    /* Fragment 1 starts where fragment 0's scan data ends. */
    uint32_t off1 = (uint32_t)(fr[1].pl[1][1] << 16 | fr[1].pl[1][2] << 8 | fr[1].pl[1][3]);
    char want[64];
    snprintf(want, sizeof want, "missing bytes %u-", off1);
    CHECK(detail_has(&x, CHK_FRAME_INCOMPLETE, want));
    CHECK(detail_has(&x, CHK_FRAME_INCOMPLETE, "frame ts 4500"));
    CHECK(x.f.len > 0 && strstr(x.f.items[x.f.len - 1].detail, "frame ts 13500 at end of capture"));
    CHECK_EQ_INT(count(&x, CHK_RTP_SEQ_GAP), 1);
    sim_close(&x);
    for (int i = 0; i < 4; i++)
        frame_free(&fr[i]);
}

static void test_undecodable_frames(void)
{
    struct tframe fr;
    frame_make(&enc, 300, MAX_PAYLOAD, &fr);
    CHECK(fr.n >= 3);
    /* Scan data turned into a run of restart markers: every fragment came,
     * the frame is rebuilt, libjpeg-turbo rejects it. */
    for (size_t k = 1; k + 1 < fr.n; k++)
        for (size_t i = 8; i + 1 < fr.pl_len[k]; i += 2) {
            fr.pl[k][i] = 0xFF;
            fr.pl[k][i + 1] = 0xD3;
        }
    static const enum decode_mode modes[] = {DECODE_ALL, DECODE_NONE};
    for (int m = 0; m < 2; m++) {
        struct rtp_stream_opts o = rfc_opts();
        o.decode = modes[m];
        struct sim x;
        sim_open(&x, &o);
        send_frame(&x, &fr, 10, 0, 0, -1);
        rtp_stream_finish(x.s, &x.f);
        CHECK_EQ_INT(M(&x)->frames.complete, 1);
        CHECK_EQ_INT(M(&x)->frames.decoded, modes[m] == DECODE_ALL ? 1 : 0);
        CHECK_EQ_INT(M(&x)->frames.undecodable, modes[m] == DECODE_ALL ? 1 : 0);
        CHECK_EQ_INT(count(&x, CHK_FRAME_UNDECODABLE), modes[m] == DECODE_ALL ? 1 : 0);
        if (modes[m] == DECODE_ALL)
            CHECK(detail_has(&x, CHK_FRAME_UNDECODABLE, "does not decode: libjpeg-turbo"));
        sim_close(&x);
    }
    frame_free(&fr);

    /* Q >= 128 with the tables left out: whole, but it cannot be rebuilt,
     * whatever the decode mode. */
    struct tframe q;
    memset(&q, 0, sizeof q);
    char msg[128];
    CHECK_EQ_INT(pattern_encode(&enc, 301, &q.jpeg, &q.len, msg, sizeof msg), 0);
    struct rtpjpeg_packetizer p;
    struct rtpjpeg_options po = {.max_payload = MAX_PAYLOAD, .q = 200};
    struct wire_error err;
    CHECK_EQ_INT(rtpjpeg_packetizer_init(&p, q.jpeg, q.len, &po, &err), 0);
    uint8_t out[2048];
    size_t olen;
    bool last;
    while (q.n < MAX_PACKETS && rtpjpeg_packetizer_next(&p, out, sizeof out, &olen, &last, &err) == 1) {
        size_t cut = 0;
        if (q.n == 0) {
            /* Drop the table bytes and announce length 0. */
            size_t tlen = (size_t)(out[10] << 8 | out[11]);
            memmove(out + 12, out + 12 + tlen, olen - 12 - tlen);
            out[10] = out[11] = 0;
            cut = tlen;
        }
        q.pl[q.n] = malloc(olen - cut);
        memcpy(q.pl[q.n], out, olen - cut);
        q.pl_len[q.n++] = olen - cut;
    }
    struct rtp_stream_opts o = rfc_opts();
    struct sim x;
    sim_open(&x, &o);
    send_frame(&x, &q, 10, 0, 0, -1);
    rtp_stream_finish(x.s, &x.f);
    CHECK_EQ_INT(M(&x)->frames.undecodable, 1);
    CHECK_EQ_INT(M(&x)->frames.decoded, 0);
    CHECK_EQ_INT(count(&x, CHK_FRAME_UNDECODABLE), 1);
    CHECK(detail_has(&x, CHK_FRAME_UNDECODABLE, "tables never came"));
    sim_close(&x);
    frame_free(&q);
}

static void test_decode_modes(void)
{
    static const struct { enum decode_mode mode; uint64_t decoded; } cases[] = {
        {DECODE_NONE, 0}, {DECODE_SAMPLE, 3}, {DECODE_ALL, 33}};
    struct tframe fr;
    frame_make(&enc, 7, MAX_PAYLOAD, &fr);
    for (int c = 0; c < 3; c++) {
        struct rtp_stream_opts o = rfc_opts();
        o.decode = cases[c].mode;
        struct sim x;
        sim_open(&x, &o);
        uint16_t seq = 5;
        for (uint32_t i = 0; i < 33; i++)
            seq = send_frame(&x, &fr, seq, 4500u * i, (int64_t)i * 50 * MS, -1);
        rtp_stream_finish(x.s, &x.f);
        CHECK_EQ_INT(M(&x)->frames.complete, 33);
        CHECK_EQ_INT(M(&x)->frames.decoded, cases[c].decoded); /* SAMPLE: 0, 16, 32 */
        CHECK_EQ_INT(M(&x)->frames.undecodable, 0);
        sim_close(&x);
    }
    frame_free(&fr);
}

static void test_lab_dialect(void)
{
    struct rtp_stream_opts o = lab_opts();
    o.decode = DECODE_SAMPLE;
    struct sim x;
    sim_open(&x, &o);
    uint64_t bytes = 0;
    for (uint32_t n = 1; n <= 60; n++) {
        struct tframe fr;
        frame_make(&enc, n, MAX_PAYLOAD, &fr);
        int64_t t = (int64_t)(n - 1) * 50 * MS + 250 * MS; /* wall clock seconds tick at 0.75 s */
        send_pkt(&x, (uint16_t)n, 1700000000u + (uint32_t)(t / (1000 * MS)), false, 26, fr.jpeg, fr.len,
                 t - 250 * MS);
        bytes += fr.len;
        frame_free(&fr);
    }
    rtp_stream_finish(x.s, &x.f);
    const struct rtp_stream_metrics *m = M(&x);
    CHECK_EQ_INT(m->packets, 60);
    CHECK_EQ_INT(m->lost, 0);
    CHECK_EQ_INT(m->bytes, bytes);
    CHECK_EQ_INT(m->frames.complete, 60);
    CHECK_EQ_INT(m->frames.incomplete, 0);
    CHECK_EQ_INT(m->frames.decoded, 4);
    CHECK(fabs(m->frames.fps - 20.0) < 1e-6);
    CHECK(fabs(m->frames.interval_ms.p50 - 50.0) < 1e-6);
    CHECK(m->frames.numbered.present);
    CHECK_EQ_INT(m->frames.numbered.first, 1);
    CHECK_EQ_INT(m->frames.numbered.last, 60);
    CHECK_EQ_INT(m->frames.numbered.skipped + m->frames.numbered.repeated +
                 m->frames.numbered.out_of_order, 0);
    /* Seq from 1, wall-clock timestamps, M=0: noted once each, nothing else. */
    CHECK_EQ_INT(count(&x, CHK_RTP_SEQ_INITIAL), 1);
    CHECK_EQ_INT(count(&x, CHK_RTP_TS_CLOCK), 1);
    CHECK_EQ_INT(count(&x, CHK_RTP_MARKER), 1);
    CHECK(detail_has(&x, CHK_RTP_MARKER, "marker bit clear on 60 of 60 packets"));
    CHECK_EQ_INT(count_all(&x), 3);
    CHECK_EQ_INT(count(&x, CHK_RTP_TS_FRAME), 0);
    sim_close(&x);
}

static void test_lab_numbering(void)
{
    /* {seq, frame number}, seq in order: frame 11 never sent; 20 sent
     * twice; 22 before 21; on to 80, then the movie starts again at 1. */
    uint16_t plan[100][2];
    size_t n = 0;
    for (uint16_t k = 1; k <= 80; k++) {
        if (k == 11)
            continue;
        plan[n][0] = (uint16_t)(n + 1), plan[n++][1] = k == 21 ? 22 : k == 22 ? 21 : k;
        if (k == 20)
            plan[n][0] = (uint16_t)(n + 1), plan[n++][1] = 20;
    }
    plan[n][0] = (uint16_t)(n + 1), plan[n++][1] = 1;
    plan[n][0] = (uint16_t)(n + 1), plan[n++][1] = 2;
    struct rtp_stream_opts o = lab_opts();
    struct sim x;
    sim_open(&x, &o);
    for (size_t i = 0; i < n; i++) {
        struct tframe fr;
        frame_make(&enc, plan[i][1], MAX_PAYLOAD, &fr);
        send_pkt(&x, plan[i][0], 0, true, 26, fr.jpeg, fr.len, (int64_t)i * 50 * MS);
        frame_free(&fr);
    }
    /* Not whole JPEGs: a cut one and one that is not a JPEG at all. */
    struct tframe fr;
    frame_make(&enc, 26, MAX_PAYLOAD, &fr);
    send_pkt(&x, (uint16_t)(n + 1), 0, true, 26, fr.jpeg, fr.len / 2, (int64_t)n * 50 * MS);
    send_pkt(&x, (uint16_t)(n + 2), 0, true, 26, filler, 100, (int64_t)(n + 1) * 50 * MS);
    frame_free(&fr);
    rtp_stream_finish(x.s, &x.f);
    const struct rtp_stream_numbered *nb = &M(&x)->frames.numbered;
    CHECK(nb->present);
    CHECK_EQ_INT(nb->first, 1);
    CHECK_EQ_INT(nb->last, 2);
    CHECK_EQ_INT(nb->skipped, 1);      /* 11; 21 came late, so it is not skipped */
    CHECK_EQ_INT(nb->repeated, 1);     /* 20 */
    CHECK_EQ_INT(nb->out_of_order, 2); /* 21 late, 1 again */
    CHECK_EQ_INT(count(&x, CHK_FRAME_SKIPPED), 2);
    CHECK(detail_has(&x, CHK_FRAME_SKIPPED, "expected frame 11, got frame 12 (1 skipped)"));
    CHECK_EQ_INT(count(&x, CHK_FRAME_REPEATED), 1);
    CHECK(detail_has(&x, CHK_FRAME_REPEATED, "frame 20 again"));
    CHECK_EQ_INT(count(&x, CHK_FRAME_ORDER), 2);
    CHECK(detail_has(&x, CHK_FRAME_ORDER, "frame 21 arrived after frame 22"));
    CHECK_EQ_INT(M(&x)->frames.complete, n);
    CHECK_EQ_INT(M(&x)->frames.incomplete, 2);
    CHECK_EQ_INT(count(&x, CHK_FRAME_INCOMPLETE), 2);
    CHECK(detail_has(&x, CHK_FRAME_INCOMPLETE, "is not a whole JPEG"));
    CHECK_EQ_INT(count(&x, CHK_RTP_MARKER), 0); /* M=1 on every lab packet here */
    sim_close(&x);
}

/* Lab frames completed at the cumulative sums of the given intervals. */
static void lab_intervals(struct sim *x, const double *iv_ms, size_t n, const struct tframe *fr)
{
    double t = 0;
    for (size_t i = 0; i <= n; i++) {
        send_pkt(x, (uint16_t)(1000 + i), (uint32_t)(t * 90), false, 26, fr->jpeg, fr->len,
                 (int64_t)llround(t * 1e6));
        if (i < n)
            t += iv_ms[i];
    }
}

static void test_exact_percentiles_and_stalls(void)
{
    struct tframe fr;
    frame_make(&enc, 1, MAX_PAYLOAD, &fr);
    double iv[100];
    for (int i = 0; i < 100; i++)
        iv[i] = (double)((i * 37) % 100 + 1); /* 1..100 ms, shuffled */
    struct rtp_stream_opts o = lab_opts();
    o.nominal_fps = 40; /* 25 ms: stalls above 75 ms */
    struct sim x;
    sim_open(&x, &o);
    lab_intervals(&x, iv, 100, &fr);
    rtp_stream_finish(x.s, &x.f);
    const struct rtp_stream_frames *f = &M(&x)->frames;
    CHECK_EQ_INT(f->interval_ms.count, 100);
    CHECK(fabs(f->interval_ms.p50 - 50) < 1e-9);
    CHECK(fabs(f->interval_ms.p95 - 95) < 1e-9);
    CHECK(fabs(f->interval_ms.p99 - 99) < 1e-9);
    CHECK(fabs(f->interval_ms.max - 100) < 1e-9);
    CHECK(fabs(f->fps - 100 * 1000.0 / 5050) < 1e-9);
    CHECK(fabs(f->nominal_interval_ms - 25) < 1e-9 && !f->nominal_estimated);
    CHECK_EQ_INT(f->stalls, 25); /* 76..100 */
    sim_close(&x);

    /* Nominal unknown: the median. 60 x 10 ms and 40 x 40 ms: nominal 10,
     * so the 40 ms intervals are stalls. */
    for (int i = 0; i < 100; i++)
        iv[i] = i % 5 < 3 ? 10 : 40;
    o.nominal_fps = 0;
    sim_open(&x, &o);
    lab_intervals(&x, iv, 100, &fr);
    rtp_stream_finish(x.s, &x.f);
    f = &M(&x)->frames;
    CHECK(f->have_nominal && f->nominal_estimated);
    CHECK(fabs(f->nominal_interval_ms - 10) < 1e-9);
    CHECK_EQ_INT(f->stalls, 40);
    CHECK(fabs(f->interval_ms.p95 - 40) < 1e-9);
    sim_close(&x);

    /* No interval at all: no nominal to report. */
    sim_open(&x, &o);
    lab_intervals(&x, iv, 0, &fr);
    rtp_stream_finish(x.s, &x.f);
    CHECK(!M(&x)->frames.have_nominal);
    CHECK_EQ_INT(M(&x)->frames.interval_ms.count, 0);
    sim_close(&x);
    frame_free(&fr);
}

/* 10,000 intervals: past the exact buffer, into the histogram. */
static void test_histogram_percentiles(void)
{
    struct tframe fr;
    frame_make(&enc_tiny, 1, 1400, &fr);
    CHECK_EQ_INT(fr.n, 1);
    for (int pass = 0; pass < 2; pass++) {
        struct rtp_stream_opts o = rfc_opts();
        o.nominal_fps = pass == 0 ? 20 : 0;
        struct sim x;
        sim_open(&x, &o);
        int64_t t = 0;
        for (int i = 0; i <= 10000; i++) {
            send_pkt(&x, (uint16_t)i, (uint32_t)(t / 1000 * 90 / 1000), true, 26, fr.pl[0], fr.pl_len[0], t);
            int k = (i * 7919) % 10000; /* a permutation of 0..9999 */
            double ms = k < 9000 ? 50.0 : k < 9800 ? 60.0 : k < 9990 ? 300.0 : k < 9999 ? 2000.5 : 20000.0;
            t += (int64_t)llround(ms * 1e6);
        }
        rtp_stream_finish(x.s, &x.f);
        const struct rtp_stream_frames *f = &M(&x)->frames;
        CHECK_EQ_INT(f->complete, 10001);
        CHECK_EQ_INT(f->interval_ms.count, 10000);
        CHECK(fabs(f->interval_ms.p50 - 50) <= 0.01);
        CHECK(fabs(f->interval_ms.p95 - 60) <= 0.01);
        CHECK(fabs(f->interval_ms.p99 - 300) <= 1.0);
        CHECK(fabs(f->interval_ms.max - 20000) < 1e-9);
        CHECK_EQ_INT(f->stalls, 200); /* above 150 ms: 190 + 9 + 1 */
        CHECK(fabs(f->nominal_interval_ms - 50) <= 0.01);
        CHECK(rtp_stream_memory(x.s) < 512 * 1024);
        sim_close(&x);
    }
    frame_free(&fr);
}

static void test_bitrate_series(void)
{
    struct rtp_stream_opts o = plain_opts();
    struct sim x;
    sim_open(&x, &o);
    for (int i = 0; i < 35; i++)
        send_pkt(&x, (uint16_t)(60000 + i), 9000u * (uint32_t)i, false, 96, filler, 1000,
                 (int64_t)i * 100 * MS);
    rtp_stream_finish(x.s, &x.f);
    const struct rtp_stream_metrics *m = M(&x);
    CHECK_EQ_INT(m->bytes, 35000);
    CHECK_EQ_INT(m->bitrate_series_len, 4);
    CHECK(!m->bitrate_series_truncated);
    static const double want[] = {80000, 80000, 80000, 40000};
    for (int i = 0; i < 4 && m->bitrate_series_len == 4; i++)
        CHECK(fabs(m->bitrate_series_bps[i] - want[i]) < 1e-9);
    CHECK(fabs(m->bitrate_bps - 35000 * 8 / 3.4) < 1e-6);
    CHECK_EQ_INT(m->last_ns - m->first_ns, 3400 * MS);
    sim_close(&x);
}

static void test_quiet_windows(void)
{
    struct rtp_stream_opts o = plain_opts();
    struct sim x;
    sim_open(&x, &o);
    uint16_t seq = 700;
    int64_t t;
    for (t = 0; t < 1000 * MS; t += 50 * MS)
        send_plain(&x, seq++, (uint32_t)(t / MS * 90), t);
    /* PAUSE answered at 1.0 s; one packet 30 ms later: a frame under way. */
    rtp_stream_quiet(x.s, T0 + 1000 * MS, CHK_RTP_AFTER_PAUSE, 9001);
    send_plain(&x, seq++, 90000, 1030 * MS);
    rtp_stream_resume(x.s, 9002);
    CHECK_EQ_INT(count(&x, CHK_RTP_AFTER_PAUSE), 0);
    CHECK_EQ_INT(M(&x)->after_quiet, 1);
    for (t = 2000 * MS; t < 3000 * MS; t += 50 * MS)
        send_plain(&x, seq++, (uint32_t)(t / MS * 90), t);
    /* PAUSE at 3.0 s; packets at +20, +500, +600 ms. */
    rtp_stream_quiet(x.s, T0 + 3000 * MS, CHK_RTP_AFTER_PAUSE, 9003);
    send_plain(&x, seq++, 270000, 3020 * MS);
    uint64_t first_after = x.frame;
    send_plain(&x, seq++, 270000 + 45000, 3500 * MS);
    send_plain(&x, seq++, 270000 + 54000, 3600 * MS);
    uint64_t last_after = x.frame;
    CHECK_EQ_INT(count(&x, CHK_RTP_AFTER_PAUSE), 0); /* reported when the window closes */
    rtp_stream_resume(x.s, 9004);
    CHECK_EQ_INT(count(&x, CHK_RTP_AFTER_PAUSE), 1);
    const struct finding *fd = first(&x, CHK_RTP_AFTER_PAUSE);
    CHECK(fd && fd->frame == first_after && fd->frame_end == last_after);
    CHECK(detail_has(&x, CHK_RTP_AFTER_PAUSE, "3 RTP packets after the PAUSE reply (frame 9003), 1 of them within 100 ms"));
    CHECK(detail_has(&x, CHK_RTP_AFTER_PAUSE, "the last 600.0 ms after the reply"));
    /* TEARDOWN at 4 s, a packet 200 ms later: reported at the end. */
    rtp_stream_quiet(x.s, T0 + 4000 * MS, CHK_RTP_AFTER_TEARDOWN, 9005);
    send_plain(&x, seq++, 360000 + 18000, 4200 * MS);
    CHECK_EQ_INT(count(&x, CHK_RTP_AFTER_TEARDOWN), 0);
    rtp_stream_finish(x.s, &x.f);
    CHECK_EQ_INT(count(&x, CHK_RTP_AFTER_TEARDOWN), 1);
    CHECK(detail_has(&x, CHK_RTP_AFTER_TEARDOWN, "1 RTP packets after the TEARDOWN reply"));
    CHECK_EQ_INT(M(&x)->after_quiet, 5);
    sim_close(&x);

    /* A pause does not make a stall: no frame interval across PLAY. */
    o = lab_opts();
    sim_open(&x, &o);
    struct tframe fr;
    frame_make(&enc, 1, MAX_PAYLOAD, &fr);
    seq = 1;
    for (t = 0; t < 1000 * MS; t += 50 * MS)
        send_pkt(&x, seq++, 0, true, 26, fr.jpeg, fr.len, t);
    rtp_stream_quiet(x.s, T0 + 1000 * MS, CHK_RTP_AFTER_PAUSE, 500);
    rtp_stream_resume(x.s, 501);
    for (t = 6000 * MS; t < 7000 * MS; t += 50 * MS)
        send_pkt(&x, seq++, 0, true, 26, fr.jpeg, fr.len, t);
    rtp_stream_finish(x.s, &x.f);
    CHECK_EQ_INT(M(&x)->frames.stalls, 0);
    CHECK(fabs(M(&x)->frames.interval_ms.max - 50) < 1e-9);
    CHECK_EQ_INT(M(&x)->frames.interval_ms.count, 38);
    CHECK_EQ_INT(count(&x, CHK_RTP_AFTER_PAUSE), 0);
    frame_free(&fr);
    sim_close(&x);
}

static void test_sender_report_counts(void)
{
    struct rtp_stream_opts o = plain_opts();
    struct sim x;
    sim_open(&x, &o);
    for (uint16_t s = 1000; s < 1100; s++)
        if (s < 1050 || s >= 1060) /* 10 lost */
            send_pkt(&x, s, 4500u * s, false, 96, filler, 500, (int64_t)(s - 1000) * 50 * MS);
    /* received 90 packets, 45000 octets; the highest seq says 100 sent */
    static const struct { uint32_t packets, octets; enum check_id fires; const char *text; } cases[] = {
        {95, 47500, CHK_COUNT, NULL},                 /* some in flight */
        {100, 50000, CHK_COUNT, NULL},                /* the lost ones */
        {30, 45000, CHK_RTCP_SR_COUNTS, "already received"},
        {30, 15000, CHK_RTCP_SR_COUNTS, "SR packet count 30, but 90 RTP packets were already received; SR octet count 15000"},
        {400, 45000, CHK_RTCP_SR_COUNTS, "highest sequence number implies 100 sent"},
        {95, 1000, CHK_RTCP_SR_COUNTS, "payload octets were already received"},
        {95, 900000, CHK_RTCP_SR_COUNTS, "more than the 45000 received"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint64_t before = count(&x, CHK_RTCP_SR_COUNTS);
        struct rtcp_sender_info si = {.ntp_ts = 0, .rtp_ts = 0, .packet_count = cases[c].packets,
                                      .octet_count = cases[c].octets};
        rtp_stream_sender_report(x.s, &si, 7000 + c, &x.f);
        uint64_t added = count(&x, CHK_RTCP_SR_COUNTS) - before;
        CHECK_EQ_INT(added, cases[c].fires == CHK_COUNT ? 0 : 1);
        if (cases[c].text && added)
            CHECK(strstr(x.f.items[x.f.len - 1].detail, cases[c].text) != NULL);
    }
    sim_close(&x);
}

/* 2,000,000 packets (1,000,000 two-packet frames, 20 ms apart, over 30
 * sequence wraps): exact counts, the histogram and series caps, the same
 * heap after 1,000,000 packets as after 2,000,000, and quick. */
static void test_long_stream_memory_is_flat(void)
{
    struct tframe fr;
    frame_make(&enc_tiny, 5, 240, &fr); /* tables and 100 scan bytes, then the rest */
    CHECK_EQ_INT(fr.n, 2);
    if (fr.n != 2)
        return;
    struct rtp_stream_opts o = rfc_opts();
    o.decode = DECODE_NONE;
    struct sim x;
    sim_open(&x, &o);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t mem_half = 0;
    uint16_t seq = 12345;
    for (uint32_t i = 0; i < 1000000; i++) {
        int64_t t = (int64_t)i * 40 * MS;
        send_pkt(&x, seq++, 3600u * i, false, 26, fr.pl[0], fr.pl_len[0], t);
        send_pkt(&x, seq++, 3600u * i, true, 26, fr.pl[1], fr.pl_len[1], t + 20 * MS);
        if (i == 499999)
            mem_half = rtp_stream_memory(x.s);
    }
    size_t mem_end = rtp_stream_memory(x.s);
    rtp_stream_finish(x.s, &x.f);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    const struct rtp_stream_metrics *m = M(&x);
    CHECK_EQ_INT(m->packets, 2000000);
    CHECK_EQ_INT(m->expected, 2000000);
    CHECK_EQ_INT(m->lost, 0);
    CHECK_EQ_INT(m->frames.complete, 1000000);
    CHECK_EQ_INT(m->frames.interval_ms.count, 999999);
    CHECK(fabs(m->frames.interval_ms.p50 - 40) <= 0.01);
    CHECK(fabs(m->frames.fps - 25) < 1e-6);
    CHECK_EQ_INT(m->bitrate_series_len, RTPS_SERIES_MAX);
    CHECK(m->bitrate_series_truncated);
    CHECK(mem_half > 0 && mem_end == mem_half);
    CHECK(mem_end < 1024 * 1024);
    if (count_all(&x))
        dump(&x);
    CHECK_EQ_INT(count_all(&x), 0);
    printf("     2,000,000 packets in %.2f s, stream heap %zu bytes\n", secs, mem_end);
    CHECK(secs < 60);
    sim_close(&x);
    frame_free(&fr);
}

int main(void)
{
    unsetenv("TJ_OPTIMIZE");
    unsetenv("TJ_ARITHMETIC");
    unsetenv("TJ_RESTART");
    unsetenv("TJ_PROGRESSIVE");
    struct pattern_options po;
    pattern_options_default(&po);
    po.width = 64;
    po.height = 48;
    po.quality = 75;
    char msg[256] = "";
    bool ok = pattern_encoder_init(&enc, &po, msg, sizeof msg) == 0;
    po.width = po.height = 16;
    ok = ok && pattern_encoder_init(&enc_tiny, &po, msg, sizeof msg) == 0;
    if (!ok) {
        fprintf(stderr, "pattern encoder: %s\n", msg);
        return 1;
    }
    RUN(test_clean_rfc2435_stream_raises_nothing);
    RUN(test_packets_the_capture_cut_keep_their_headers_and_blame_nobody);
    RUN(test_gap_counts_loss_and_names_the_range);
    RUN(test_reorder_and_duplicates_are_counted);
    RUN(test_window_edges_tell_late_and_early_packets);
    RUN(test_sequence_wrap);
    RUN(test_resync_keeps_earlier_loss);
    RUN(test_initial_sequence_number);
    RUN(test_version_malformed_and_empty_packets);
    RUN(test_payload_type);
    RUN(test_jitter_matches_tshark_by_hand);
    RUN(test_timestamp_clock);
    RUN(test_timestamp_advance);
    RUN(test_marker_and_frame_timestamp);
    RUN(test_incomplete_frames);
    RUN(test_undecodable_frames);
    RUN(test_decode_modes);
    RUN(test_lab_dialect);
    RUN(test_lab_numbering);
    RUN(test_exact_percentiles_and_stalls);
    RUN(test_histogram_percentiles);
    RUN(test_bitrate_series);
    RUN(test_quiet_windows);
    RUN(test_sender_report_counts);
    RUN(test_long_stream_memory_is_flat);
    pattern_encoder_free(&enc);
    pattern_encoder_free(&enc_tiny);
    CHECK_DONE();
}
