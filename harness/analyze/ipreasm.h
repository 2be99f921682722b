/* IP fragment reassembly for the analyzer: puts IPv4 (RFC 791, holes
 * tracked as RFC 815 describes) and IPv6 (RFC 8200 4.5) fragments back
 * together into whole datagrams, so that a lab server's whole-JPEG UDP
 * datagrams, which a 1500-byte-MTU link carries as fragments, reach the
 * UDP path as the receiver's socket would get them.
 *
 * Fragments come from pkt_decode (struct pkt with fragment set and the
 * frag fields filled). A datagram is keyed by (source, destination,
 * protocol, identification) for IPv4 and (source, destination,
 * identification) for IPv6. Fragments may come in any order. A datagram
 * is complete once its last fragment (MF/M clear) has come and every byte
 * before it has too; it is then handed out as a decoded struct pkt with
 * the frame number and time of the fragment that completed it (when the
 * receiver gets it). A datagram missing a fragment is never handed out.
 *
 * Rules, the same for IPv4 and IPv6 (RFC 5722 with erratum 3089, and what
 * Linux does for both since 4.19):
 * - a fragment whose bytes have all arrived already is a duplicate: it is
 *   ignored (the bytes received first are kept); one coming after its
 *   datagram was handed out starts a new reassembly, as in a receiver, but
 *   when that is given up its fragments count as duplicates, not as an
 *   incomplete datagram (datagrams handed out are remembered for this in
 *   1024 slots by key hash, a newer one taking an older one's slot);
 * - a fragment overlapping bytes received, or contradicting the end the
 *   last fragment gave (a second, different end; bytes beyond it), makes
 *   the whole datagram discarded;
 * - a datagram whose header and data would exceed 65535 bytes is
 *   discarded (counted as oversize);
 * - a discarded datagram's later fragments are absorbed until its timeout,
 *   so that they do not start a new reassembly;
 * - an IPv4 fragment with MF whose data is not a multiple of 8 bytes is cut
 *   down to one (the bytes past it are ignored, as Linux does); an IPv6 one
 *   is ignored as malformed (RFC 8200), and so is any empty fragment.
 *
 * Memory is bounded: at most max_datagrams under reassembly holding at
 * most max_bytes (buffers and bookkeeping); a new datagram, or one that
 * grows, evicts the oldest ones. A datagram not complete timeout_ns of
 * capture time after its first fragment is given up. Capture time is the
 * latest frame time seen, so a capture out of time order does not move it
 * back. Evicted, timed-out and (at ipreasm_finish) unfinished datagrams are
 * counted as incomplete.
 */
#ifndef RTSP_HARNESS_IPREASM_H
#define RTSP_HARNESS_IPREASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pcapin.h"

#define IPREASM_DEFAULT_MAX_DATAGRAMS 4096                   /* datagrams under reassembly at once */
#define IPREASM_DEFAULT_MAX_BYTES (64u << 20)                /* bytes they may hold */
#define IPREASM_DEFAULT_TIMEOUT_NS (30LL * 1000000000LL)      /* 30 s of capture time (Linux ipfrag_time) */
#define IPREASM_MAX_DATAGRAM 65535                            /* IPv4 total length / IPv6 payload length limit */
#define IPREASM_MIN_BYTES (128u << 10)                        /* max_bytes must hold one datagram of the largest size */

/* Limits; ipreasm_opts_default fills the defaults above. */
struct ipreasm_opts {
    size_t max_datagrams; /* datagrams under reassembly at once (at least 1) */
    size_t max_bytes;     /* bytes they hold, buffers and bookkeeping (at least IPREASM_MIN_BYTES) */
    int64_t timeout_ns;   /* capture time from a datagram's first fragment to its giving up (> 0) */
};

/* Counters. */
struct ipreasm_stats {
    uint64_t fragments;   /* fragments given to ipreasm_fragment */
    uint64_t reassembled; /* datagrams completed and handed out */
    uint64_t incomplete;  /* datagrams given up with bytes missing: timed_out + evicted + unfinished */
    uint64_t timed_out;   /* of those: not complete within the timeout */
    uint64_t evicted;     /* of those: pushed out by max_datagrams or max_bytes, oldest first */
    uint64_t unfinished;  /* of those: still waiting at ipreasm_finish (end of capture) */
    uint64_t duplicates;  /* fragments whose bytes had all arrived, or late copies of a datagram handed out */
    uint64_t overlapping; /* datagrams discarded for an overlapping or contradicting fragment */
    uint64_t oversize;    /* datagrams discarded for a length above 65535 */
    uint64_t absorbed;    /* fragments of discarded datagrams, dropped */
    uint64_t malformed;   /* fragments ignored: empty, or an IPv6 non-last one not a multiple of 8 */
    uint64_t nomem;       /* fragments dropped because malloc failed */
    size_t active;        /* datagrams under reassembly (or discarded, absorbing) now */
    size_t bytes;         /* bytes they hold now */
    size_t bytes_peak;    /* highest bytes so far */
};

struct ipreasm;

/* Fill o with the defaults. */
void ipreasm_opts_default(struct ipreasm_opts *o);

/* Create a reassembler; o NULL means defaults. Returns NULL with *why
 * (when why is not NULL) set on a limit out of range or no memory. */
struct ipreasm *ipreasm_new(const struct ipreasm_opts *o, const char **why);

/* Feed one fragment (frag->fragment true, frag->frame and frag->ts_ns
 * set); its bytes are copied. Returns 1 when it completed a datagram: *out
 * is then that datagram decoded by pkt_decode as a raw IP packet (its own
 * IPv4 or IPv6 header, without options or extension headers before the
 * fragment header; out->why says when it is not TCP/UDP), with frame and
 * ts_ns of this fragment; out->data and out->payload stay valid until the
 * next call or ipreasm_free. Returns 0 when the fragment was kept, ignored
 * or dropped (see the counters), and for a packet that is not a fragment. */
int ipreasm_fragment(struct ipreasm *r, const struct pkt *frag, struct pkt *out);

/* End of capture: every datagram still waiting counts as incomplete
 * (unfinished) and is freed. The reassembler stays usable. */
void ipreasm_finish(struct ipreasm *r);

/* Free everything; r may be NULL. */
void ipreasm_free(struct ipreasm *r);

/* Counters; valid until ipreasm_free. */
const struct ipreasm_stats *ipreasm_stats(const struct ipreasm *r);

#endif
