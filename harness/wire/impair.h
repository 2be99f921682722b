/* Impairment specifications in netem's own syntax (tc-netem(8)): what a
 * scenario's `@impair` line and its `at 2s: ...` phases say, parsed once
 * into numbers every backend understands. The kernel backend (netlab/netem.c)
 * turns a spec into TCA_NETEM attributes, the userspace backend
 * (netlab/uimpair.c) carries it out itself; both start from this struct, so
 * the two cannot disagree on what the text means.
 *
 * Grammar (tc-netem's, keywords in any order, each at most once):
 *   limit PACKETS
 *   delay TIME [JITTER [CORRELATION]]
 *   distribution {uniform|normal|pareto|paretonormal}
 *   loss [random] PERCENT [CORRELATION]
 *   loss state P13 [P31 [P32 [P23 [P14]]]]
 *   loss gemodel PERCENT [R [1-H [1-K]]]
 *   ecn
 *   corrupt PERCENT [CORRELATION]
 *   duplicate PERCENT [CORRELATION]
 *   reorder PERCENT [CORRELATION] [gap DISTANCE]
 *   rate RATE [PACKETOVERHEAD [CELLSIZE [CELLOVERHEAD]]]
 *   slot MIN_DELAY [MAX_DELAY] [packets N] [bytes B]
 *   seed SEED
 * TIME takes us/usec, ms/msec, s/sec (bare numbers are microseconds, as in
 * tc); PERCENT takes a trailing % (bare numbers are percent); RATE takes
 * bit, kbit, mbit, gbit, bps, kbps, mbps, gbps (tc's units: "bps" is bytes
 * per second) with SI (k = 1000) multipliers. The empty string (or
 * "none") is a valid spec that impairs nothing.
 *
 * Probabilities are kept in parts per million so that formatting a parsed
 * spec gives back the same numbers exactly. */
#ifndef RTSP_HARNESS_IMPAIR_H
#define RTSP_HARNESS_IMPAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define IMPAIR_PPM 1000000u /* 100% */

enum impair_dist {
    IMPAIR_DIST_UNIFORM = 0, /* netem's default when only jitter is given */
    IMPAIR_DIST_NORMAL,
    IMPAIR_DIST_PARETO,
    IMPAIR_DIST_PARETONORMAL,
};

enum impair_loss_model {
    IMPAIR_LOSS_NONE = 0,
    IMPAIR_LOSS_RANDOM,  /* independent (with optional correlation) */
    IMPAIR_LOSS_STATE,   /* 4-state Markov model (netem "loss state") */
    IMPAIR_LOSS_GEMODEL, /* Gilbert-Elliott (netem "loss gemodel") */
};

/* One direction's impairment. Zero-initialised means "nothing". */
struct impair_spec {
    uint32_t limit_packets;      /* queue limit; 0: backend default (netem's 1000) */
    uint32_t delay_us;           /* base delay */
    uint32_t jitter_us;          /* +- jitter around delay */
    uint32_t delay_corr_ppm;     /* correlation of successive delays */
    enum impair_dist dist;       /* jitter distribution */
    bool dist_given;             /* "distribution" keyword present */

    enum impair_loss_model loss_model;
    uint32_t loss_ppm;           /* random: drop probability; gemodel: p (good->bad) */
    uint32_t loss_corr_ppm;      /* random: correlation */
    uint32_t ge_r_ppm;           /* gemodel: r (bad->good); given or 100% - p */
    uint32_t ge_1h_ppm;          /* gemodel: 1-h, loss probability in the bad state (default 100%) */
    uint32_t ge_1k_ppm;          /* gemodel: 1-k, loss probability in the good state (default 0) */
    uint32_t st_p13_ppm;         /* state: good -> bad burst */
    uint32_t st_p31_ppm;         /* state: bad burst -> good (default 100% - p13) */
    uint32_t st_p32_ppm;         /* state: bad burst -> good with isolated losses */
    uint32_t st_p23_ppm;         /* state: isolated-loss good -> bad burst */
    uint32_t st_p14_ppm;         /* state: good -> isolated loss */
    bool ecn;                    /* mark instead of drop (ECN-capable packets) */

    uint32_t corrupt_ppm;        /* flip one random bit of the packet */
    uint32_t corrupt_corr_ppm;
    uint32_t duplicate_ppm;      /* send the packet twice */
    uint32_t duplicate_corr_ppm;
    uint32_t reorder_ppm;        /* send some packets at once (others delayed) */
    uint32_t reorder_corr_ppm;
    uint32_t reorder_gap;        /* netem "gap": every gap-th packet is sent at once; 0 none */

    uint64_t rate_bps;           /* bottleneck in bits per second; 0 none */
    int32_t rate_packet_overhead;/* bytes added (or removed) per packet */
    uint32_t rate_cell_size;     /* link-layer cell size; 0 none */
    int32_t rate_cell_overhead;  /* bytes per cell */

    uint32_t slot_min_us;        /* slotting: packets leave in bursts, slots spaced min..max */
    uint32_t slot_max_us;        /* 0 in a hand-made spec: the same as slot_min_us */
    int32_t slot_packets;        /* packets per slot; 0 unlimited */
    int32_t slot_bytes;          /* bytes per slot; 0 unlimited */

    uint64_t seed;               /* random source seed */
    bool seed_given;             /* "seed" keyword present */
};

/* Parse netem syntax from text[0..len). Returns 0, or WIRE_ERROR with err
 * naming the offending word's offset and what was wrong with it ("loss
 * percentage above 100%", "unknown keyword 'lose'", "delay needs a time").
 * The reason names the word, so it is not a static string: err->reason
 * points to a per-thread buffer that stays valid until the next
 * impair_parse call in the same thread (copy it to keep it longer). */
int impair_parse(const char *text, size_t len, struct impair_spec *out, struct wire_error *err);

/* Write the spec back in canonical netem syntax ("delay 30ms 10ms loss 2%
 * seed 7"; "" when nothing is impaired). Returns the length written, or -1
 * when cap is too small (buf is then "" when cap > 0). impair_parse of the
 * output gives the same struct. */
int impair_format(const struct impair_spec *s, char *buf, size_t cap);

/* Whether a spec is one impair_parse could have produced: every
 * probability at most 100%, the enums in range, the 4-state model's
 * outgoing probabilities summing to at most 100%, a slot maximum (when
 * not 0) not below its minimum, slot counts not negative. Backends call it on specs built
 * by hand (tests, phases) before anything else; netem has further rules
 * of its own (netem.c). Returns 0, or -1 with err ("loss 1200000 ppm is
 * above 100%"; err may be NULL). */
int impair_check(const struct impair_spec *s, char *err, size_t cap);

/* True when the spec changes nothing (no delay, loss, duplication, ...). */
bool impair_is_none(const struct impair_spec *s);

/* Long-run fraction of packets lost that the spec asks for, 0..1 (random:
 * p; gemodel and state: the stationary loss rate of the Markov chain). */
double impair_expected_loss(const struct impair_spec *s);

/* Two-sided binomial interval [lo, hi] of lost packets out of n at
 * probability p with the given confidence (0.99 for 99%): the counts
 * outside which an observation is rejected. Exact (from the binomial
 * distribution, not a normal approximation), so that small n and small p
 * are right. */
void impair_binomial_interval(uint64_t n, double p, double confidence, uint64_t *lo, uint64_t *hi);

#endif
