/* One-way measurements from the two captures of a lab: every IPv4 packet
 * that crossed the middle box is looked up on the far side by its bytes
 * (the layer-2 middle box changes none of them), so each direction gets
 * what was sent, what arrived, what the network lost, duplicated or
 * reordered, and the one-way delay per packet and per video frame, all on
 * the one host clock both captures were stamped with. This is the
 * impairment as measured on the wire, set beside the impairment asked for;
 * and because a packet missing from the SUT's own capture was never sent,
 * it tells loss on the network from loss at the system under test. */
#ifndef RTSP_HARNESS_ONEWAY_H
#define RTSP_HARNESS_ONEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ONEWAY_LOST_KEPT 64 /* lost RTP packets listed per direction */

/* A distribution in milliseconds. */
struct oneway_dist {
    uint64_t count; /* samples */
    double min, p50, p95, p99, max, mean;
};

/* One lost RTP packet. */
struct oneway_lost {
    uint32_t ssrc;      /* RTP SSRC */
    uint16_t seq;       /* RTP sequence number */
    uint64_t frame;     /* its frame number in the sending side's capture */
    int64_t sent_ns;    /* when it left */
};

/* One direction. */
struct oneway_dir {
    uint64_t sent;            /* packets in the sending side's capture */
    uint64_t received;        /* packets in the receiving side's capture */
    uint64_t delivered;       /* sent packets that arrived at least once */
    uint64_t lost;            /* sent - delivered */
    uint64_t duplicates;      /* extra copies that arrived */
    uint64_t unmatched;       /* arrived but never sent as such (corrupted in transit) */
    uint64_t reordered;       /* arrived after a packet sent later */
    uint64_t rtp_sent;        /* of sent: RTP packets */
    uint64_t rtp_lost;        /* of lost: RTP packets */
    uint64_t frames_sent;     /* RTP video frames (same SSRC and timestamp; lab: one datagram) */
    uint64_t frames_lost;     /* frames missing at least one packet */
    struct oneway_dist delay_ms;       /* per delivered packet: first arrival - departure */
    struct oneway_dist frame_delay_ms; /* per delivered frame: last packet's arrival - first packet's departure */
    struct oneway_lost lost_rtp[ONEWAY_LOST_KEPT]; /* the first lost RTP packets */
    size_t n_lost_rtp;                 /* entries used */
};

struct oneway {
    struct oneway_dir to_peer; /* SUT -> harness: sent in the SUT capture, received in the peer capture */
    struct oneway_dir to_sut;  /* harness -> SUT */
};

/* Compare the captures. sut_addr and peer_addr are the two ends' IPv4
 * addresses. Returns 0, or -1 with err naming the file that could not be
 * read. */
int oneway_measure(const char *sut_pcap, const char *peer_pcap, const char *sut_addr,
                   const char *peer_addr, struct oneway *out, char *err, size_t cap);

#endif
