/* The userspace impairment backend: a forwarder thread in the router
 * namespace that moves every Ethernet frame between the router's two veths
 * through AF_PACKET sockets and applies an impair_spec per direction
 * (delay with jitter and distributions, random, 4-state and Gilbert-Elliott
 * loss, duplication, reordering, corruption, rate, slots) from a seeded
 * random source, logging every decision. docs/impairment.md says why
 * AF_PACKET rather than NFQUEUE.
 *
 * Determinism: a decision is a function of (seed, direction, flow ordinal,
 * packet index within the flow), not of a shared sequential stream, so the
 * k-th RTP packet of a flow meets the same fate in every run with the same
 * seed whatever the timing of other flows (RTSP retransmissions, keepalives)
 * is. Flows are numbered per direction in order of first appearance, keyed
 * by protocol and addresses/ports. */
#ifndef RTSP_HARNESS_UIMPAIR_H
#define RTSP_HARNESS_UIMPAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "impair.h"

enum uimpair_dir {
    UIMPAIR_TO_SUT = 0,  /* frames arriving on the peer-side veth, leaving on the SUT side */
    UIMPAIR_TO_PEER = 1, /* frames arriving on the SUT-side veth, leaving on the peer side */
};

/* Counters per direction, final after uimpair_stop. */
struct uimpair_stats {
    uint64_t frames_in;      /* frames received from the ingress veth */
    uint64_t frames_out;     /* frames sent on the egress veth (duplicates count twice) */
    uint64_t dropped;        /* lost by the loss model */
    uint64_t blackout_drops; /* dropped during a blackout */
    uint64_t duplicated;
    uint64_t corrupted;
    uint64_t reordered;
    uint64_t queue_drops;    /* queue over limit */
    uint64_t send_errors;    /* sendto failures (counted, not fatal) */
    /* Delay error: actual send time minus scheduled send time, microseconds. */
    double delay_err_p50_us;
    double delay_err_p99_us;
    double delay_err_max_us;
    uint64_t ecn_marked;      /* CE-marked instead of dropped (spec.ecn) */
    uint64_t rx_kernel_drops; /* frames the kernel dropped before the forwarder read them */
    uint64_t log_lines;       /* decision lines logged for this direction (one per frame in) */
    uint64_t delay_err_count; /* frames sent, the population of the delay error figures */
};

struct uimpair;

/* Options of one forwarder. */
struct uimpair_opts {
    int router_netns_fd;                /* namespace holding both veths */
    const char *peer_ifname;            /* router's veth towards the harness ("rt-peer") */
    const char *sut_ifname;             /* router's veth towards the SUT ("rt-sut") */
    struct impair_spec spec[2];         /* per uimpair_dir */
    const char *log_path;               /* decision log (one line per frame); NULL: none */
    int64_t t0_ns;                      /* CLOCK_REALTIME origin for log times (scenario start) */
};

/* 0 when the userspace backend can carry out s (every field in range:
 * probabilities at most 100%, 4-state sums at most 100%, slot maximum not
 * below its minimum); -1 with err naming the field otherwise. uimpair_start
 * and uimpair_set refuse what this refuses. */
int uimpair_check_spec(const struct impair_spec *s, char *err, size_t cap);
/* Start the forwarder thread. Returns 0, or -1 with err naming what failed
 * (socket, interface, thread). */
int uimpair_start(const struct uimpair_opts *o, struct uimpair **out, char *err, size_t cap);
/* Replace one direction's spec from now on (a phase). Thread-safe. Returns
 * 0, or -1 when dir is not a direction or uimpair_check_spec refuses s. */
int uimpair_set(struct uimpair *u, enum uimpair_dir dir, const struct impair_spec *s);
/* Drop every frame in both directions for duration_us from now. */
void uimpair_blackout(struct uimpair *u, uint64_t duration_us);
/* Stop, flush the log, fill stats[2] (may be NULL), free. */
void uimpair_stop(struct uimpair *u, struct uimpair_stats stats[2]);

#endif
