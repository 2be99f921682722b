/* What the RTP stream tests share (test_rtpstream.c, test_series.c):
 * numbered test-pattern frames with their RFC 2435 payloads, and a stream
 * under analysis fed packets built with rtp_build on a capture clock from
 * T0. Include after check.h. */
#ifndef RTSP_HARNESS_RTPSTREAM_SIM_H
#define RTSP_HARNESS_RTPSTREAM_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture/pattern.h"
#include "rtp.h"
#include "rtpjpeg.h"
#include "analyze/rtpstream.h"

#define MS 1000000LL /* nanoseconds */
#define T0 (1700000000LL * 1000000000LL) /* capture clock origin of every test */
#define SSRC 0x1234abcdu
#define WHERE "10.0.0.1:20000 -> 10.0.0.2:5000 ssrc 0x1234abcd"
#define MAX_PACKETS 64

/* One test-pattern frame: the JPEG and its RFC 2435 payloads. */
struct tframe {
    uint8_t *jpeg;               /* whole JPEG (lab payload) */
    size_t len;                  /* its length */
    size_t n;                    /* RFC 2435 payloads */
    uint8_t *pl[MAX_PACKETS];    /* payloads */
    size_t pl_len[MAX_PACKETS];  /* their lengths */
};

/* Frame `number` from e, cut into RFC 2435 payloads of at most max_payload. */
static void frame_make(struct pattern_encoder *e, uint32_t number, size_t max_payload, struct tframe *fr)
{
    memset(fr, 0, sizeof *fr);
    char msg[256] = "";
    if (pattern_encode(e, number, &fr->jpeg, &fr->len, msg, sizeof msg) != 0) {
        fprintf(stderr, "pattern_encode: %s\n", msg);
        CHECK(!"pattern_encode failed");
        return;
    }
    struct rtpjpeg_packetizer p;
    struct rtpjpeg_options o = {.max_payload = max_payload, .q = 0};
    struct wire_error err;
    CHECK_EQ_INT(rtpjpeg_packetizer_init(&p, fr->jpeg, fr->len, &o, &err), 0);
    uint8_t out[2048];
    size_t olen;
    bool last;
    while (fr->n < MAX_PACKETS && rtpjpeg_packetizer_next(&p, out, sizeof out, &olen, &last, &err) == 1) {
        fr->pl[fr->n] = malloc(olen);
        memcpy(fr->pl[fr->n], out, olen);
        fr->pl_len[fr->n++] = olen;
    }
    CHECK(fr->n >= 1);
}

static void frame_free(struct tframe *fr)
{
    free(fr->jpeg);
    for (size_t i = 0; i < fr->n; i++)
        free(fr->pl[i]);
    memset(fr, 0, sizeof *fr);
}

/* A stream under test with its findings and a pcap frame counter. */
struct sim {
    struct rtp_stream *s; /* the stream */
    struct findings f;    /* its findings */
    uint64_t frame;       /* pcap frame number of the last packet sent */
};

static void sim_open(struct sim *x, const struct rtp_stream_opts *o)
{
    x->s = rtp_stream_new(o, WHERE);
    CHECK(x->s != NULL);
    findings_init(&x->f);
    x->frame = 0;
}

static void sim_close(struct sim *x)
{
    rtp_stream_free(x->s);
    findings_free(&x->f);
}

static uint8_t pkt_buf[70000];

/* One RTP packet with this header and payload, arriving at T0 + t_ns. */
static void send_pkt(struct sim *x, uint16_t seq, uint32_t ts, bool marker, uint8_t pt, const uint8_t *payload,
                     size_t len, int64_t t_ns)
{
    struct rtp_header h = {.version = 2, .marker = marker, .payload_type = pt, .seq = seq,
                           .timestamp = ts, .ssrc = SSRC};
    int n = rtp_build(&h, payload, len, pkt_buf, sizeof pkt_buf, NULL);
    CHECK(n > 0);
    if (n > 0)
        rtp_stream_packet(x->s, pkt_buf, (size_t)n, T0 + t_ns, ++x->frame, &x->f);
}

#endif
