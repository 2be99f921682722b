/* TCP reassembly for the analyzer: turns the TCP segments of a capture into
 * the two in-order byte streams of each connection, for the RTSP layer.
 *
 * Connections are keyed by their 4-tuple (IPv4 or IPv6). Each direction is
 * delivered in sequence order to on_data, chunk by chunk, each chunk with
 * the frame number of the segment that carried it and the time its bytes
 * became available in order (head-of-line blocking included); in-order
 * segments are passed through without copying. Retransmitted and
 * overlapping bytes are dropped (the bytes received first are kept).
 * Segments ahead of a hole are copied into a bounded per-direction buffer.
 *
 * A hole the capture never fills (the capture lost the segment) does not
 * stall delivery: when the peer acknowledges bytes beyond the hole (it got
 * them, so the capture lost them), when the data after it outgrows the
 * window (buffered bytes or segments above the limits, or a segment
 * arriving more than the window ahead of the hole), when the direction's
 * FIN is acknowledged or the connection is reset, or at
 * tcpreasm_flush_all(), on_gap reports the missing bytes and where they
 * were detected, and delivery resumes at the next buffered segment. A segment more than the window ahead with nothing
 * buffered leading to it (a capture that lost megabytes, or a hostile
 * sequence number) is a gap as well: the stream jumps to it, so memory
 * never grows with the distance. Segments more than 2^31 behind or ahead
 * count as old (retransmitted) and are dropped. Bytes the snap length cut
 * off are reported as a gap right where they fall.
 *
 * A connection seen without its SYN starts at its first segment. Memory is
 * bounded by max_conns, window_bytes, max_segments and max_buffered_bytes;
 * when the table is full a closed connection is evicted, or else packets
 * of new connections are counted and ignored. Nothing is allocated for an
 * in-order segment.
 *
 * Callbacks run inside tcpreasm_packet, tcpreasm_flush_all and
 * tcpreasm_free; they must not call back into the same tcpreasm.
 */
#ifndef RTSP_HARNESS_TCPREASM_H
#define RTSP_HARNESS_TCPREASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pcapin.h"

#define TCPREASM_DEFAULT_WINDOW_BYTES (4u << 20)       /* 4 MiB per direction */
#define TCPREASM_DEFAULT_MAX_SEGMENTS 4096              /* buffered segments per direction */
#define TCPREASM_DEFAULT_MAX_CONNS 4096                 /* connections tracked at once */
#define TCPREASM_DEFAULT_MAX_BUFFERED_BYTES (256u << 20) /* buffered bytes, all connections */
#define TCPREASM_MAX_WINDOW_BYTES (1u << 30)            /* sequence arithmetic needs < 2^31 */

/* Limits; tcpreasm_opts_default fills the defaults above. */
struct tcpreasm_opts {
    size_t window_bytes;       /* out-of-order bytes buffered per direction; also how far ahead a segment may start */
    size_t max_segments;       /* out-of-order segments buffered per direction */
    size_t max_conns;          /* connections in the table at once (at most 2^24) */
    size_t max_buffered_bytes; /* out-of-order bytes buffered over all connections */
};

/* Why bytes were declared missing. */
enum tcpreasm_gap_reason {
    TCPREASM_GAP_WINDOW,  /* data after the hole outgrew the window (or a limit) */
    TCPREASM_GAP_JUMP,    /* a segment beyond the window, nothing buffered before it: the stream jumped */
    TCPREASM_GAP_FIN,     /* the peer acknowledged the FIN with bytes still missing */
    TCPREASM_GAP_RST,     /* the connection was reset with bytes missing */
    TCPREASM_GAP_FLUSH,   /* end of capture (or connection abandoned) with bytes missing */
    TCPREASM_GAP_SNAPLEN, /* the capture's snap length cut the segment */
    TCPREASM_GAP_ACKED,   /* the peer acknowledged bytes the capture does not have */
};

/* One delivered piece of a direction's byte stream. */
struct tcpreasm_chunk {
    const uint8_t *data; /* the bytes; valid only during the callback */
    size_t len;          /* > 0 */
    uint64_t offset;     /* stream offset of data[0]: bytes delivered or reported missing before it */
    uint64_t frame;      /* frame of the segment that carried these bytes */
    int64_t ts_ns;       /* when they became available in order: that frame's time, or for
                            bytes buffered behind a hole, the time of the segment that filled
                            it (what a receiving application sees) */
};

/* Bytes of a direction's stream that the capture does not have. */
struct tcpreasm_gap {
    uint64_t missing_bytes;          /* how many, > 0 */
    uint64_t offset;                 /* stream offset where they start */
    uint64_t frame;                  /* frame at which the gap was detected */
    int64_t ts_ns;                   /* that frame's time */
    uint64_t frame_before;           /* frame that carried the last byte before the gap; 0 none */
    uint64_t frame_after;            /* frame of the segment delivery resumes with; 0 none yet */
    enum tcpreasm_gap_reason reason; /* why the bytes were given up */
};

/* Counters of one direction (what one endpoint sent). */
struct tcpreasm_dir {
    uint64_t segments;     /* TCP segments seen, with or without data */
    uint64_t bytes;        /* bytes delivered to on_data */
    uint64_t gap_bytes;    /* bytes reported missing to on_gap */
    uint64_t gaps;         /* on_gap calls */
    uint64_t dup_bytes;    /* retransmitted or overlapping bytes dropped */
    uint64_t ooo_segments; /* segments that arrived ahead of a hole and were buffered */
    uint64_t jumps;        /* TCPREASM_GAP_JUMP gaps */
    bool syn;              /* a SYN was seen from this side */
    bool fin;              /* a FIN was seen from this side */
    bool ended;            /* on_end was called for this side */
};

/* One connection as the caller sees it. */
struct tcpreasm_conn {
    struct pkt_endpoint ep[2];  /* ep[0]: source of the first packet seen; ep[1]: its destination */
    int syn_from;               /* index into ep of the side that sent the SYN (with only the SYN-ACK captured: the side it went to); -1 unknown */
    struct tcpreasm_dir dir[2]; /* dir[i]: the stream ep[i] sent */
    uint64_t first_frame;       /* frame that created the connection */
    uint64_t last_frame;        /* latest frame of the connection */
    int64_t first_ts_ns;        /* time of first_frame */
    int64_t last_ts_ns;         /* time of last_frame */
    bool reset;                 /* an RST was seen */
    bool closed;                /* both sides ended: later packets are ignored, a new SYN starts a new connection */
    void *user;                 /* the caller's context, usually set in on_open */
};

/* The caller's sink. Every member may be NULL. */
struct tcpreasm_callbacks {
    /* A new connection, created by packet p; c->ep and c->syn_from are set. */
    void (*on_open)(void *ctx, struct tcpreasm_conn *c, const struct pkt *p);
    /* In-order bytes sent by c->ep[dir]. */
    void (*on_data)(void *ctx, struct tcpreasm_conn *c, int dir, const struct tcpreasm_chunk *k);
    /* Bytes sent by c->ep[dir] that will never be delivered; the next
     * on_data continues after them. */
    void (*on_gap)(void *ctx, struct tcpreasm_conn *c, int dir, const struct tcpreasm_gap *g);
    /* c->ep[dir]'s stream is over: its FIN, after all of its bytes (reset
     * false), or an RST from either side (reset true). frame: where. */
    void (*on_end)(void *ctx, struct tcpreasm_conn *c, int dir, bool reset, uint64_t frame);
    /* Last call for c, just before it is freed (eviction of a closed
     * connection, a new SYN on its 4-tuple, tcpreasm_free): release c->user. */
    void (*on_close)(void *ctx, struct tcpreasm_conn *c);
};

/* Reassembler-wide counters. */
struct tcpreasm_stats {
    uint64_t packets;             /* packets given to tcpreasm_packet */
    uint64_t conns;               /* connections created */
    uint64_t conns_evicted;       /* closed connections freed to make room in a full table */
    uint64_t refused_packets;     /* packets of new connections ignored: table full of open ones */
    uint64_t after_close_packets; /* packets of closed connections, ignored */
    uint64_t ignored_packets;     /* not TCP, IP fragments, RST without a connection */
    uint64_t nomem_bytes;         /* out-of-order bytes dropped because malloc failed */
    size_t active;                /* connections in the table now */
    size_t buffered_bytes;        /* out-of-order bytes buffered now, all connections */
    size_t buffered_peak;         /* highest buffered_bytes so far */
};

struct tcpreasm;

/* Fill o with the defaults. */
void tcpreasm_opts_default(struct tcpreasm_opts *o);

/* Create a reassembler; o NULL means defaults. cb is copied; ctx is passed
 * to every callback. Returns NULL with *why (when why is not NULL) set on
 * bad limits (0, or a window above TCPREASM_MAX_WINDOW_BYTES) or no memory. */
struct tcpreasm *tcpreasm_new(const struct tcpreasm_opts *o, const struct tcpreasm_callbacks *cb,
                              void *ctx, const char **why);

/* Feed one decoded packet (p->frame and p->ts_ns set). Packets that are not
 * TCP, IP fragments, and packets of untracked connections are counted and
 * ignored. Returns the connection the packet belongs to, or NULL when it
 * was ignored. */
struct tcpreasm_conn *tcpreasm_packet(struct tcpreasm *r, const struct pkt *p);

/* End of capture: deliver everything still buffered, with on_gap for the
 * holes, and on_end for sides whose FIN was seen. Connections stay in the
 * table (their counters readable) until tcpreasm_free. */
void tcpreasm_flush_all(struct tcpreasm *r);

/* on_close for every connection still in the table, then free all. r may be NULL. */
void tcpreasm_free(struct tcpreasm *r);

/* Counters; valid until tcpreasm_free. */
const struct tcpreasm_stats *tcpreasm_stats(const struct tcpreasm *r);

/* "window", "jump", "fin", "rst", "flush", "snaplen", "acked". */
const char *tcpreasm_gap_reason_name(enum tcpreasm_gap_reason r);

#endif
