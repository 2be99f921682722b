/* Unit tests for the per-stream series and thumbnails (harness/analyze/
 * series.c through rtpstream.c's opts.series), fed synthetic RTP packets
 * built from numbered test-pattern frames: frame times, intervals and
 * running jitter; gaps from loss, taken back by late packets, split, across
 * the sequence wrap; thumbnails first/last, around a loss, for a corrupt
 * frame, withdrawn when the loss was only reordering, and capped; the lab
 * dialect; the frame cap; series off; base64. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "check.h"
#include "rtpstream_sim.h"
#include "analyze/series.h"

#define MAX_PAYLOAD 1400
#define TS_STEP 4500u /* 20 fps at 90 kHz */
#define FRAME_NS (50 * MS)

static struct pattern_encoder enc;      /* 384x288: several packets a frame */
static struct pattern_encoder enc_tiny; /* 16x16: one packet a frame */

static const struct rtp_series *S(const struct sim *x)
{
    return rtp_stream_series(x->s);
}

/* Every payload of fr, 1 ms apart, the last (marker) one at t_ns.
 * Returns the next sequence number. */
static uint16_t send_frame(struct sim *x, const struct tframe *fr, uint16_t seq, uint32_t ts, int64_t t_ns)
{
    for (size_t i = 0; i < fr->n; i++, seq++)
        send_pkt(x, seq, ts, i + 1 == fr->n, 26, fr->pl[i], fr->pl_len[i],
                 t_ns - (int64_t)(fr->n - 1 - i) * MS);
    return seq;
}

static const uint8_t filler[200];

static struct rtp_stream_opts rfc_opts(void)
{
    return (struct rtp_stream_opts){.expected_pt = 26, .clock_rate = 0, .lab = false,
                                    .nominal_fps = 20, .decode = DECODE_NONE, .series = true};
}

static struct rtp_stream_opts lab_opts(void)
{
    return (struct rtp_stream_opts){.expected_pt = 26, .clock_rate = 0, .lab = true,
                                    .nominal_fps = 20, .decode = DECODE_NONE, .series = true};
}

/* The reasons of the thumbnails, comma-separated. */
static const char *reasons(const struct rtp_series *r)
{
    static char buf[256];
    buf[0] = '\0';
    for (size_t i = 0; r && i < r->n_thumbs; i++) {
        strcat(buf, i ? "," : "");
        strcat(buf, r->thumbs[i].reason);
    }
    return buf;
}

#define CHECK_REASONS(r, want) CHECK_STR(reasons(r), strlen(reasons(r)), want)

/* Mean absolute difference between a thumbnail and the frame decoded at
 * the thumbnail's size, per RGB sample: small when the thumbnail shows it. */
static double thumb_difference(const struct series_thumb *t, const uint8_t *jpeg, size_t len)
{
    tjhandle tj = tjInitDecompress();
    int w, h, ss, cs;
    double diff = 1e9;
    if (tjDecompressHeader3(tj, t->jpeg, (unsigned long)t->jpeg_len, &w, &h, &ss, &cs) == 0 &&
        w == t->width && h == t->height) {
        uint8_t *a = malloc((size_t)w * (size_t)h * 3), *b = malloc((size_t)w * (size_t)h * 3);
        if (tjDecompress2(tj, t->jpeg, (unsigned long)t->jpeg_len, a, w, 0, h, TJPF_RGB, 0) == 0 &&
            tjDecompress2(tj, jpeg, (unsigned long)len, b, w, 0, h, TJPF_RGB, 0) == 0) {
            double sum = 0;
            for (size_t i = 0; i < (size_t)w * (size_t)h * 3; i++)
                sum += fabs((double)a[i] - (double)b[i]);
            diff = sum / ((double)w * (double)h * 3);
        }
        free(a);
        free(b);
    }
    tjDestroy(tj);
    return diff;
}

/* ---- cases ---------------------------------------------------------------- */

static void test_clean_stream_frames_and_first_last_thumbnails(void)
{
    struct tframe fr[100];
    for (uint32_t i = 0; i < 100; i++)
        frame_make(&enc, i + 1, MAX_PAYLOAD, &fr[i]);
    struct rtp_stream_opts o = rfc_opts();
    struct sim x;
    sim_open(&x, &o);
    uint16_t seq = 30000;
    uint64_t marker_frame[100];
    for (uint32_t i = 0; i < 100; i++) {
        seq = send_frame(&x, &fr[i], seq, 1000 + TS_STEP * i, (int64_t)i * FRAME_NS + 10 * MS);
        marker_frame[i] = x.frame;
    }
    rtp_stream_finish(x.s, &x.f);
    const struct rtp_series *r = S(&x);
    CHECK(r != NULL);
    if (!r)
        goto out;
    CHECK_EQ_INT(r->n_frames, 100);
    CHECK(!r->frames_truncated);
    CHECK(isnan(r->frames[0].interval_ms));
    size_t bad = 0;
    for (size_t i = 0; i < r->n_frames; i++) {
        if (i > 0 && r->frames[i].interval_ms != 50.0)
            bad++;
        if (r->frames[i].t_ns != T0 + (int64_t)i * FRAME_NS + 10 * MS ||
            r->frames[i].rtp_ts != 1000 + TS_STEP * i || r->frames[i].pcap_frame != marker_frame[i] ||
            !(r->frames[i].jitter_ms >= 0))
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(r->n_gaps, 0);
    CHECK_REASONS(r, "first,last");
    if (r->n_thumbs == 2) {
        CHECK_EQ_INT(r->thumbs[0].rtp_ts, 1000);
        CHECK_EQ_INT(r->thumbs[0].pcap_frame, marker_frame[0]);
        CHECK_EQ_INT(r->thumbs[1].rtp_ts, 1000 + TS_STEP * 99);
        CHECK_EQ_INT(r->thumbs[1].t_ns, T0 + 99 * FRAME_NS + 10 * MS);
        for (int k = 0; k < 2; k++) {
            const struct series_thumb *t = &r->thumbs[k];
            tjhandle tj = tjInitDecompress();
            int w = 0, h = 0, ss = -1, cs = 0;
            CHECK_EQ_INT(tjDecompressHeader3(tj, t->jpeg, (unsigned long)t->jpeg_len, &w, &h, &ss, &cs), 0);
            tjDestroy(tj);
            CHECK_EQ_INT(w, t->width);
            CHECK_EQ_INT(h, t->height);
            CHECK_EQ_INT(w, 144); /* 3/8 of 384: the largest DCT scale within 160 */
            CHECK_EQ_INT((long)w * 288, (long)h * 384);
            CHECK_EQ_INT(ss, TJSAMP_420);
        }
        double d0 = thumb_difference(&r->thumbs[0], fr[0].jpeg, fr[0].len);
        double d_wrong = thumb_difference(&r->thumbs[0], fr[99].jpeg, fr[99].len);
        CHECK(d0 < 6.0);
        CHECK(d_wrong > d0);
        CHECK(thumb_difference(&r->thumbs[1], fr[99].jpeg, fr[99].len) < 6.0);
    }
out:
    sim_close(&x);
    for (int i = 0; i < 100; i++)
        frame_free(&fr[i]);
}

static void test_running_jitter_per_frame(void)
{
    /* One packet a frame; frame 10 arrives 5 ms late, the rest on time:
     * J is 0 up to frame 9, then 5/16, then (15 J + 5) / 16 (frame 11 is
     * 5 ms early against frame 10), then decays by 15/16 a frame. */
    struct tframe fr;
    frame_make(&enc_tiny, 1, MAX_PAYLOAD, &fr);
    CHECK_EQ_INT(fr.n, 1);
    struct rtp_stream_opts o = rfc_opts();
    struct sim x;
    sim_open(&x, &o);
    for (uint32_t i = 0; i < 14; i++)
        send_frame(&x, &fr, (uint16_t)(500 + i), TS_STEP * i, (int64_t)i * FRAME_NS + (i == 10 ? 5 * MS : 0));
    rtp_stream_finish(x.s, &x.f);
    const struct rtp_series *r = S(&x);
    CHECK(r && r->n_frames == 14);
    if (r && r->n_frames == 14) {
        double j10 = 5.0 / 16.0, j11 = (15.0 * j10 + 5.0) / 16.0, j12 = 15.0 * j11 / 16.0;
        CHECK(r->frames[9].jitter_ms == 0.0);
        CHECK(fabs(r->frames[10].jitter_ms - j10) < 1e-9);
        CHECK(fabs(r->frames[11].jitter_ms - j11) < 1e-9);
        CHECK(fabs(r->frames[12].jitter_ms - j12) < 1e-9);
        CHECK(fabs(r->frames[10].interval_ms - 55.0) < 1e-9);
        CHECK(fabs(r->frames[11].interval_ms - 45.0) < 1e-9);
    }
    sim_close(&x);
    frame_free(&fr);
}

/* 100 frames, the ones in drop[] not sent at all; which dialect. */
static void run_with_dropped(struct sim *x, bool lab, const uint32_t *drop, size_t n_drop, uint16_t seq0,
                             struct tframe *fr, size_t n_frames, uint16_t *first_seq_of,
                             uint64_t *first_frame_of)
{
    uint16_t seq = seq0;
    for (uint32_t i = 0; i < n_frames; i++) {
        bool dropped = false;
        for (size_t k = 0; k < n_drop; k++)
            dropped |= drop[k] == i;
        first_seq_of[i] = seq;
        first_frame_of[i] = x->frame + 1;
        uint32_t ts = TS_STEP * i;
        int64_t t = (int64_t)i * FRAME_NS + 10 * MS;
        const struct tframe *f = &fr[i % 2];
        if (lab) {
            if (!dropped)
                send_pkt(x, seq, ts, true, 26, f->jpeg, f->len, t);
            seq++;
        } else if (dropped) {
            seq = (uint16_t)(seq + f->n);
        } else {
            seq = send_frame(x, f, seq, ts, t);
        }
    }
}

static void test_lost_frame_gap_and_loss_thumbnails(void)
{
    struct tframe fr[2];
    frame_make(&enc, 7, MAX_PAYLOAD, &fr[0]);
    frame_make(&enc, 8, MAX_PAYLOAD, &fr[1]);
    CHECK(fr[0].n >= 3);
    for (int lab = 0; lab < 2; lab++) {
        struct rtp_stream_opts o = lab ? lab_opts() : rfc_opts();
        struct sim x;
        sim_open(&x, &o);
        uint16_t first_seq[100];
        uint64_t first_frame[100];
        static const uint32_t drop[] = {40};
        run_with_dropped(&x, lab, drop, 1, 1000, fr, 100, first_seq, first_frame);
        rtp_stream_finish(x.s, &x.f);
        const struct rtp_series *r = S(&x);
        CHECK(r != NULL);
        if (!r) {
            sim_close(&x);
            continue;
        }
        CHECK_EQ_INT(r->n_frames, 99);
        CHECK_EQ_INT(r->n_gaps, 1);
        if (r->n_gaps == 1) {
            CHECK_EQ_INT(r->gaps[0].first_seq, first_seq[40]);
            CHECK_EQ_INT(r->gaps[0].count, lab ? 1 : fr[0].n);
            CHECK_EQ_INT(r->gaps[0].pcap_frame, first_frame[41]);
            CHECK_EQ_INT(r->gaps[0].t_ns, T0 + 41 * FRAME_NS + 10 * MS - (lab ? 0 : (int64_t)(fr[1].n - 1) * MS));
            CHECK_EQ_INT(rtp_stream_metrics(x.s)->lost, r->gaps[0].count);
        }
        CHECK(fabs(r->frames[40].interval_ms - 100.0) < 1e-9); /* frame 41 after frame 39 */
        CHECK_REASONS(r, "first,before-loss,after-loss,last");
        if (r->n_thumbs == 4) {
            CHECK_EQ_INT(r->thumbs[1].rtp_ts, TS_STEP * 39);
            CHECK_EQ_INT(r->thumbs[2].rtp_ts, TS_STEP * 41);
            CHECK(thumb_difference(&r->thumbs[1], fr[1].jpeg, fr[1].len) < 6.0); /* 39 is odd: fr[1] */
            CHECK(r->thumbs[1].t_ns < r->thumbs[2].t_ns);
        }
        sim_close(&x);
    }
    frame_free(&fr[0]);
    frame_free(&fr[1]);
}

static void test_reordering_is_not_a_gap(void)
{
    struct tframe fr;
    frame_make(&enc, 3, MAX_PAYLOAD, &fr);
    CHECK(fr.n >= 3);
    /* RFC 2435: two fragments of frame 20 swapped. */
    struct rtp_stream_opts o = rfc_opts();
    struct sim x;
    sim_open(&x, &o);
    uint16_t seq = 200;
    for (uint32_t i = 0; i < 40; i++) {
        int64_t t = (int64_t)i * FRAME_NS;
        if (i != 20) {
            seq = send_frame(&x, &fr, seq, TS_STEP * i, t);
            continue;
        }
        for (size_t k = 0; k < fr.n; k++) {
            size_t p = k == 0 ? 1 : k == 1 ? 0 : k;
            send_pkt(&x, (uint16_t)(seq + p), TS_STEP * i, p + 1 == fr.n, 26, fr.pl[p], fr.pl_len[p],
                     t + (int64_t)k * MS);
        }
        seq = (uint16_t)(seq + fr.n);
    }
    rtp_stream_finish(x.s, &x.f);
    CHECK_EQ_INT(rtp_stream_metrics(x.s)->reordered, 1);
    CHECK_EQ_INT(rtp_stream_metrics(x.s)->lost, 0);
    CHECK(S(&x) && S(&x)->n_gaps == 0 && S(&x)->n_frames == 40);
    CHECK_REASONS(S(&x), "first,last");
    sim_close(&x);

    /* Lab: frame 21 before frame 20. The loss shows at 21, its thumbnails
     * go when 20 comes. */
    o = lab_opts();
    sim_open(&x, &o);
    for (uint32_t i = 0; i < 40; i++) {
        uint32_t n = i == 20 ? 21 : i == 21 ? 20 : i;
        send_pkt(&x, (uint16_t)(700 + n), TS_STEP * n, true, 26, fr.jpeg, fr.len, (int64_t)i * FRAME_NS);
    }
    rtp_stream_finish(x.s, &x.f);
    CHECK_EQ_INT(rtp_stream_metrics(x.s)->reordered, 1);
    CHECK(S(&x) && S(&x)->n_gaps == 0 && S(&x)->n_frames == 40);
    CHECK_REASONS(S(&x), "first,last");
    sim_close(&x);
    frame_free(&fr);
}

static void test_late_packet_splits_and_shrinks_gaps(void)
{
    /* PT 96 (no frames): 10..19 sent, 20..24 lost, 25.., then 22 late,
     * then 20 late: gaps [21] and [23,24]. */
    struct rtp_stream_opts o = rfc_opts();
    o.expected_pt = 96;
    struct sim x;
    sim_open(&x, &o);
    int64_t t = 0;
    for (uint16_t s = 10; s < 30; s++, t += 10 * MS)
        if (s < 20 || s > 24)
            send_pkt(&x, s, 900u * s, false, 96, filler, sizeof filler, t);
    send_pkt(&x, 22, 900u * 22, false, 96, filler, sizeof filler, t);
    send_pkt(&x, 20, 900u * 20, false, 96, filler, sizeof filler, t + MS);
    rtp_stream_finish(x.s, &x.f);
    const struct rtp_series *r = S(&x);
    CHECK_EQ_INT(rtp_stream_metrics(x.s)->lost, 3);
    CHECK(r && r->n_gaps == 2);
    if (r && r->n_gaps == 2) {
        CHECK_EQ_INT(r->gaps[0].first_seq, 21);
        CHECK_EQ_INT(r->gaps[0].count, 1);
        CHECK_EQ_INT(r->gaps[1].first_seq, 23);
        CHECK_EQ_INT(r->gaps[1].count, 2);
        CHECK_EQ_INT(r->gaps[1].pcap_frame, 11); /* seq 25, the packet after the gap */
    }
    CHECK_EQ_INT(r ? r->n_frames : 1, 0);
    CHECK_EQ_INT(r ? r->n_thumbs : 1, 0);
    sim_close(&x);
}

static void test_sequence_wrap_with_loss_at_the_wrap(void)
{
    struct tframe fr[2];
    frame_make(&enc_tiny, 1, MAX_PAYLOAD, &fr[0]);
    frame_make(&enc_tiny, 2, MAX_PAYLOAD, &fr[1]);
    CHECK_EQ_INT(fr[0].n, 1);
    struct rtp_stream_opts o = rfc_opts();
    struct sim x;
    sim_open(&x, &o);
    /* seq 65525 + i: frames 10 and 11 are seq 65535 and 0. */
    for (uint32_t i = 0; i < 30; i++)
        if (i != 10 && i != 11)
            send_frame(&x, &fr[i % 2], (uint16_t)(65525 + i), TS_STEP * i, (int64_t)i * FRAME_NS);
    /* and a packet reordered across the wrap later is no gap */
    rtp_stream_finish(x.s, &x.f);
    const struct rtp_series *r = S(&x);
    CHECK_EQ_INT(rtp_stream_metrics(x.s)->lost, 2);
    CHECK(r && r->n_gaps == 1);
    if (r && r->n_gaps == 1) {
        CHECK_EQ_INT(r->gaps[0].first_seq, 65535);
        CHECK_EQ_INT(r->gaps[0].count, 2);
        CHECK_EQ_INT(r->gaps[0].pcap_frame, 11);
    }
    CHECK_REASONS(r, "first,before-loss,after-loss,last");
    if (r && r->n_thumbs == 4) {
        CHECK_EQ_INT(r->thumbs[1].rtp_ts, TS_STEP * 9);
        CHECK_EQ_INT(r->thumbs[2].rtp_ts, TS_STEP * 12);
    }
    sim_close(&x);

    /* Reordered across the wrap: 65534, 0, 65535, 1 */
    sim_open(&x, &o);
    static const uint16_t order[] = {65533, 65534, 0, 65535, 1, 2};
    for (size_t i = 0; i < 6; i++)
        send_frame(&x, &fr[0], order[i], TS_STEP * (uint32_t)(uint16_t)(order[i] + 3), (int64_t)i * FRAME_NS);
    rtp_stream_finish(x.s, &x.f);
    CHECK_EQ_INT(rtp_stream_metrics(x.s)->lost, 0);
    CHECK(S(&x) && S(&x)->n_gaps == 0);
    CHECK_REASONS(S(&x), "first,last");
    sim_close(&x);
    frame_free(&fr[0]);
    frame_free(&fr[1]);
}

static void test_corrupt_frame(void)
{
    struct tframe good, bad;
    frame_make(&enc, 5, MAX_PAYLOAD, &good);
    frame_make(&enc, 6, MAX_PAYLOAD, &bad);
    CHECK(bad.n >= 3);
    /* Scan data turned into restart markers: rebuilt, but it does not decode. */
    for (size_t k = 1; k + 1 < bad.n; k++)
        for (size_t i = 8; i + 1 < bad.pl_len[k]; i += 2) {
            bad.pl[k][i] = 0xFF;
            bad.pl[k][i + 1] = 0xD3;
        }
    static const enum decode_mode modes[] = {DECODE_ALL, DECODE_NONE};
    for (int m = 0; m < 2; m++) {
        struct rtp_stream_opts o = rfc_opts();
        o.decode = modes[m];
        struct sim x;
        sim_open(&x, &o);
        uint16_t seq = 10;
        for (uint32_t i = 0; i < 10; i++)
            seq = send_frame(&x, i == 4 ? &bad : &good, seq, TS_STEP * i, (int64_t)i * FRAME_NS);
        rtp_stream_finish(x.s, &x.f);
        const struct rtp_series *r = S(&x);
        CHECK(r && r->n_frames == 10);
        /* Only a decoded frame can be found corrupt. */
        CHECK_REASONS(r, modes[m] == DECODE_ALL ? "first,corrupt,last" : "first,last");
        if (modes[m] == DECODE_ALL && r && r->n_thumbs == 3) {
            CHECK_EQ_INT(r->thumbs[1].rtp_ts, TS_STEP * 4);
            CHECK(r->thumbs[1].jpeg_len > 0 && r->thumbs[1].width == 144);
        }
        sim_close(&x);
    }

    /* Lab: a whole JPEG whose header is garbage, and one cut short inside
     * the scan: no thumbnail or a corrupt one, no crash. */
    uint8_t *junk = malloc(good.len);
    memcpy(junk, good.jpeg, good.len);
    for (size_t i = 4; i + 2 < good.len && i < 200; i++)
        junk[i] = (uint8_t)(i * 37);
    struct rtp_stream_opts o = lab_opts();
    o.decode = DECODE_ALL;
    struct sim x;
    sim_open(&x, &o);
    for (uint32_t i = 0; i < 6; i++)
        send_pkt(&x, (uint16_t)(40 + i), TS_STEP * i, true, 26, i == 2 ? junk : good.jpeg, good.len,
                 (int64_t)i * FRAME_NS);
    rtp_stream_finish(x.s, &x.f);
    const struct rtp_series *r = S(&x);
    CHECK(r != NULL);
    for (size_t i = 0; r && i < r->n_thumbs; i++)
        CHECK(strcmp(r->thumbs[i].reason, "first") == 0 || strcmp(r->thumbs[i].reason, "last") == 0 ||
              strcmp(r->thumbs[i].reason, "corrupt") == 0 || strcmp(r->thumbs[i].reason, "after-loss") == 0 ||
              strcmp(r->thumbs[i].reason, "before-loss") == 0);
    CHECK(r && r->n_thumbs >= 2 && strcmp(r->thumbs[0].reason, "first") == 0 &&
          strcmp(r->thumbs[r->n_thumbs - 1].reason, "last") == 0);
    sim_close(&x);
    free(junk);
    frame_free(&good);
    frame_free(&bad);
}

static void test_thumbnail_cap_with_many_losses(void)
{
    struct tframe fr[2];
    frame_make(&enc_tiny, 1, MAX_PAYLOAD, &fr[0]);
    frame_make(&enc_tiny, 2, MAX_PAYLOAD, &fr[1]);
    uint32_t drop[50];
    for (uint32_t k = 0; k < 50; k++)
        drop[k] = 10 + 10 * k;
    static uint16_t first_seq[600];
    static uint64_t first_frame[600];
    struct rtp_stream_opts o = rfc_opts();
    struct sim x;
    sim_open(&x, &o);
    run_with_dropped(&x, false, drop, 50, 5000, fr, 600, first_seq, first_frame);
    rtp_stream_finish(x.s, &x.f);
    const struct rtp_series *r = S(&x);
    CHECK(r && r->n_gaps == 50 && !r->gaps_truncated);
    CHECK_EQ_INT(r ? r->n_thumbs : 0, SERIES_MAX_THUMBS);
    CHECK_REASONS(r, "first,before-loss,after-loss,before-loss,after-loss,before-loss,after-loss,"
                     "before-loss,after-loss,before-loss,after-loss,last");
    if (r && r->n_thumbs == SERIES_MAX_THUMBS) {
        /* the first five losses: frames 9/11, 19/21 ... 49/51 */
        for (uint32_t k = 0; k < 5; k++) {
            CHECK_EQ_INT(r->thumbs[1 + 2 * k].rtp_ts, TS_STEP * (9 + 10 * k));
            CHECK_EQ_INT(r->thumbs[2 + 2 * k].rtp_ts, TS_STEP * (11 + 10 * k));
        }
        CHECK_EQ_INT(r->thumbs[11].rtp_ts, TS_STEP * 599);
        for (size_t i = 1; i < r->n_thumbs; i++)
            CHECK(r->thumbs[i].t_ns > r->thumbs[i - 1].t_ns);
    }
    sim_close(&x);
    frame_free(&fr[0]);
    frame_free(&fr[1]);
}

static void test_frame_cap(void)
{
    struct tframe fr;
    frame_make(&enc_tiny, 1, MAX_PAYLOAD, &fr);
    struct rtp_stream_opts o = rfc_opts();
    struct sim x;
    sim_open(&x, &o);
    uint32_t n = SERIES_MAX_FRAMES + 5;
    for (uint32_t i = 0; i < n; i++)
        send_frame(&x, &fr, (uint16_t)i, TS_STEP * i, (int64_t)i * FRAME_NS);
    rtp_stream_finish(x.s, &x.f);
    const struct rtp_series *r = S(&x);
    CHECK(r && r->n_frames == SERIES_MAX_FRAMES && r->frames_truncated);
    CHECK_REASONS(r, "first,last");
    if (r && r->n_thumbs == 2)
        CHECK_EQ_INT(r->thumbs[1].rtp_ts, TS_STEP * (n - 1));
    CHECK(rtp_stream_memory(x.s) >= SERIES_MAX_FRAMES * sizeof(struct series_frame));
    sim_close(&x);
    frame_free(&fr);
}

static void test_series_off_records_nothing_and_changes_nothing(void)
{
    struct tframe fr[2];
    frame_make(&enc, 11, MAX_PAYLOAD, &fr[0]);
    frame_make(&enc, 12, MAX_PAYLOAD, &fr[1]);
    static const uint32_t drop[] = {5, 17};
    struct rtp_stream_metrics m[2];
    size_t mem[2];
    uint64_t nfind[2];
    for (int on = 0; on < 2; on++) {
        struct rtp_stream_opts o = rfc_opts();
        o.series = on;
        o.decode = DECODE_ALL;
        struct sim x;
        sim_open(&x, &o);
        uint16_t fs[30];
        uint64_t ff[30];
        run_with_dropped(&x, false, drop, 2, 60000, fr, 30, fs, ff);
        rtp_stream_finish(x.s, &x.f);
        CHECK(on ? S(&x) != NULL : S(&x) == NULL);
        m[on] = *rtp_stream_metrics(x.s);
        mem[on] = rtp_stream_memory(x.s);
        nfind[on] = x.f.len;
        sim_close(&x);
    }
    CHECK_EQ_INT(m[0].lost, m[1].lost);
    CHECK_EQ_INT(m[0].frames.complete, m[1].frames.complete);
    CHECK_EQ_INT(m[0].frames.incomplete, m[1].frames.incomplete);
    CHECK_EQ_INT(m[0].frames.decoded, m[1].frames.decoded);
    CHECK(m[0].max_jitter_ms == m[1].max_jitter_ms && m[0].mean_jitter_ms == m[1].mean_jitter_ms);
    CHECK(m[0].frames.interval_ms.p95 == m[1].frames.interval_ms.p95);
    CHECK_EQ_INT(nfind[0], nfind[1]);
    CHECK(mem[1] > mem[0]);
    frame_free(&fr[0]);
    frame_free(&fr[1]);
}

static void test_base64(void)
{
    static const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char *b = series_base64((const unsigned char *)in[i], strlen(in[i]));
        CHECK(b != NULL);
        if (b)
            CHECK_STR(b, strlen(b), out[i]);
        free(b);
    }
    static const unsigned char bin[] = {0xff, 0xd8, 0x00, 0xfb};
    char *b = series_base64(bin, sizeof bin);
    CHECK(b && strcmp(b, "/9gA+w==") == 0);
    free(b);
}

int main(void)
{
    unsetenv("TJ_OPTIMIZE");
    unsetenv("TJ_ARITHMETIC");
    unsetenv("TJ_RESTART");
    unsetenv("TJ_PROGRESSIVE");
    struct pattern_options po;
    pattern_options_default(&po);
    po.quality = 75;
    char msg[256] = "";
    bool ok = pattern_encoder_init(&enc, &po, msg, sizeof msg) == 0;
    po.width = po.height = 16;
    ok = ok && pattern_encoder_init(&enc_tiny, &po, msg, sizeof msg) == 0;
    if (!ok) {
        fprintf(stderr, "pattern encoder: %s\n", msg);
        return 1;
    }
    RUN(test_clean_stream_frames_and_first_last_thumbnails);
    RUN(test_running_jitter_per_frame);
    RUN(test_lost_frame_gap_and_loss_thumbnails);
    RUN(test_reordering_is_not_a_gap);
    RUN(test_late_packet_splits_and_shrinks_gaps);
    RUN(test_sequence_wrap_with_loss_at_the_wrap);
    RUN(test_corrupt_frame);
    RUN(test_thumbnail_cap_with_many_losses);
    RUN(test_frame_cap);
    RUN(test_series_off_records_nothing_and_changes_nothing);
    RUN(test_base64);
    pattern_encoder_free(&enc);
    pattern_encoder_free(&enc_tiny);
    CHECK_DONE();
}
