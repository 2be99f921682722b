/* RTP stream analysis: see rtpstream.h. The rules that need more than the
 * header says are written out next to the code that applies them:
 *   - loss, duplicates and reordering: seq_account
 *   - jitter the way tshark 4.0 computes it: tshark_jitter_update
 *   - timestamp clock: clock_check
 *   - marker and frame timestamps: frame_boundary_checks
 *   - SR counts: rtp_stream_sender_report
 *   - RTP after PAUSE/TEARDOWN: rtp_stream_quiet
 *   - frame intervals, percentiles and stalls: iv_add, iv_percentile
 *   - fixture numbering: numbered_account
 *   - what opts.series records and when: series_hooks below, series.c */
#include "rtpstream.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "jpeg.h"
#include "rtp.h"
#include "rtpjpeg.h"

#define PT_JPEG 26
#define PT_CN 13      /* comfort noise, RFC 3389 */
#define PT_CN_OLD 19  /* comfort noise, the reserved old number tshark also knows */
#define DEFAULT_VIDEO_CLOCK 90000u

#define SEQ_BITMAP_BYTES (RTP_SEQ_MOD / 8) /* one bit per sequence number */
#define FRAME_BUF_INITIAL (32u * 1024u)     /* depacketizer buffer to start with; grows to the largest frame (small: hostile captures may hold thousands of streams) */
#define FRAME_BUF_MAX (RTPJPEG_JFIF_HEADER_MAX + RTPJPEG_MAX_SCAN + 2u)
#define DECODE_MAX_SIDE 16384               /* larger claimed JPEGs are not decoded (not counted as decoded) */

#define CLOCK_GAP_MAX_NS 2000000000LL  /* pairs of packets further apart than this (pauses) are left out of the clock check */
#define CLOCK_MIN_SPAN_NS 2000000000LL /* the clock check needs this much arrival time in pairs */
#define TS_FROZEN_SPAN_NS 1500000000LL /* a timestamp that never moves over this much arrival time is frozen (the lab clock ticks each 1 s) */
#define CLOCK_TOLERANCE 0.20           /* relative deviation of the measured clock allowed */

#define SR_SLACK_PACKETS 50  /* packets in flight or reordered around an SR */
#define SR_SLACK_FRACTION 0.01

#define NUM_WINDOW 64 /* fixture numbers remembered behind the highest */

#define HIST_FINE_BINS 25000  /* RTPS_HIST_FINE_MS / 0.01 */
#define HIST_COARSE_BINS 9750 /* (RTPS_HIST_COARSE_MS - RTPS_HIST_FINE_MS) / 1 */

/* Frame intervals: exact samples first, then a fixed-size histogram. */
struct interval_hist {
    double *exact;      /* up to RTPS_EXACT_INTERVALS samples, NULL once binned */
    size_t n_exact;     /* samples in exact */
    uint32_t *fine;     /* HIST_FINE_BINS bins of 0.01 ms from 0 (negative values land in bin 0) */
    uint32_t *coarse;   /* HIST_COARSE_BINS bins of 1 ms from RTPS_HIST_FINE_MS */
    uint64_t overflow;  /* samples at or above RTPS_HIST_COARSE_MS */
    uint64_t n;         /* samples in all */
    double sum;         /* their sum, ms */
    double min;         /* smallest, ms */
    double max;         /* largest, ms */
};

/* The running values tshark's rtppacket_analyse keeps for one stream. */
struct tshark_jitter {
    bool started;           /* the first packet was seen */
    uint32_t first_ts;      /* the first packet's timestamp: the reference */
    double time_ms;         /* arrival of the last in-time packet, ms after the first */
    double last_nominal_ms; /* its timestamp distance from the first, ms */
    double jitter;          /* running jitter, ms */
    double mean;        /* tshark's mean jitter */
    double max;         /* tshark's max jitter */
    uint64_t total_nr;  /* packets before this one */
    uint8_t pt;         /* payload type of the previous packet */
};

/* A PAUSE or TEARDOWN window. */
struct quiet_window {
    bool open;             /* a reply was seen and no PLAY since */
    enum check_id why;     /* CHK_RTP_AFTER_PAUSE or CHK_RTP_AFTER_TEARDOWN */
    int64_t since_ns;      /* time of the reply */
    uint64_t reply_frame;  /* pcap frame of the reply */
    uint64_t n;            /* packets after the reply */
    uint64_t n_grace;      /* of those, within RTPS_QUIET_GRACE_NS */
    uint64_t first_frame;  /* pcap frame of the first */
    uint64_t last_frame;   /* pcap frame of the last */
    int64_t last_ns;       /* arrival of the last */
    struct findings *f;    /* where the packets' findings went: the window's finding goes there too */
};

struct rtp_stream {
    struct rtp_stream_opts opt;        /* as given */
    char where[FINDING_WHERE_MAX];     /* label for findings */
    struct rtp_stream_metrics m;       /* what rtp_stream_metrics returns */
    bool finished;                     /* rtp_stream_finish ran */
    size_t heap;                       /* bytes allocated now */

    /* sequence numbers */
    struct rtp_source src;             /* RFC 3550 A.1 state, min_sequential 1 */
    int64_t expected_prev_epochs;      /* A.3 expected of epochs ended by a re-sync */
    int64_t received_prev_epochs;      /* A.3 received of those epochs */
    uint8_t *seq_seen;                 /* SEQ_BITMAP_BYTES: received since max_seq last passed the slot */
    uint16_t last_seq;                 /* seq of the previous well-formed packet (capture order) */
    bool jump_back_pending;            /* the last jump back was counted as reordered; a re-sync undoes that */

    /* per-packet history for boundary checks */
    bool have_prev;                    /* a previous packet exists */
    uint32_t prev_ts;                  /* its RTP timestamp */
    bool prev_marker;                  /* its marker bit */
    uint64_t prev_frame;               /* its pcap frame */
    int64_t prev_ns;                   /* its arrival */
    uint64_t marker_zero;              /* lab: packets without the marker */
    size_t max_payload;                /* largest payload seen, bytes */
    uint64_t first_frame_no;           /* pcap frame of the first packet */
    uint64_t last_frame_no;            /* pcap frame of the last packet */
    int reported_pt;                   /* last PT a payload-type finding named; -1 none */

    /* timing */
    double delta_sum_ms;               /* sum of consecutive arrival differences */
    uint64_t delta_n;                  /* their number */
    struct tshark_jitter tj;           /* tshark's jitter */
    bool have_inorder;                 /* an in-order packet exists for the clock check */
    uint32_t inorder_ts;               /* its timestamp */
    int64_t inorder_ns;                /* its arrival */
    double clock_ts_sum;               /* timestamp advance over pairs (clock check) */
    int64_t clock_ns_sum;              /* arrival advance over the same pairs */
    bool clock_break;                  /* a PLAY after PAUSE (or a seek) lies between the last pair member and the next */
    bool ts_moved;                     /* a clock pair's timestamp advanced */
    uint64_t ts_backwards;             /* clock pairs whose timestamp went back */
    uint64_t ts_back_frame;            /* pcap frame of the first */
    uint32_t ts_back_from, ts_back_to; /* its timestamps */
    double *series;                    /* per-second bits, RTPS_SERIES_MAX at most */
    size_t series_cap;                 /* allocated entries */

    /* frames */
    struct rtpjpeg_depacketizer dp;    /* RFC 2435 reassembly */
    uint8_t *frame_buf;                /* its buffer */
    size_t frame_cap;                  /* its size */
    bool have_frame_time;              /* a complete frame's time is known for the next interval */
    int64_t frame_time_ns;             /* arrival that completed the previous complete frame */
    struct interval_hist iv;           /* frame intervals */
    uint64_t stalls_online;            /* stalls counted as they come (nominal known up front) */
    void *tj_handle;                   /* tjhandle, created at the first decode */
    uint8_t *decode_buf;               /* scaled grey output */
    size_t decode_cap;                 /* its size */
    bool num_have;                     /* a numbered frame was seen */
    uint32_t num_run_start;            /* first number of the current run */
    uint64_t num_mask;                 /* bit k: number (last - k) seen */

    struct quiet_window quiet;         /* PAUSE/TEARDOWN */
    struct series_recorder *rec;       /* opts.series: the recording, else NULL */
};

static void *xalloc(struct rtp_stream *s, size_t n)
{
    void *p = calloc(1, n);
    if (p)
        s->heap += n;
    return p;
}

static void xfree(struct rtp_stream *s, void *p, size_t n)
{
    if (p) {
        free(p);
        s->heap -= n;
    }
}

/* RFC 3551 table 4 and 5 clock rates; dynamic and unknown: video. */
static uint32_t clock_for_pt(uint8_t pt)
{
    switch (pt) {
    case 0: case 1: case 2: case 3: case 4: case 5: case 7: case 8: case 9:
    case 12: case 13: case 15: case 18:
        return 8000;
    case 6:
        return 16000;
    case 10: case 11:
        return 44100;
    case 16:
        return 11025;
    case 17:
        return 22050;
    default:
        return DEFAULT_VIDEO_CLOCK;
    }
}

struct rtp_stream *rtp_stream_new(const struct rtp_stream_opts *o, const char *where)
{
    struct rtp_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->heap = sizeof *s;
    s->opt = *o;
    snprintf(s->where, sizeof s->where, "%s", where ? where : "");
    s->reported_pt = -1;
    s->seq_seen = xalloc(s, SEQ_BITMAP_BYTES);
    if (!s->seq_seen) {
        free(s);
        return NULL;
    }
    s->iv.min = INFINITY;
    s->m.min_delta_ms = 0;
    if (o->series)
        s->rec = series_recorder_new(); /* NULL: the stream is analysed, just not recorded */
    return s;
}

void rtp_stream_free(struct rtp_stream *s)
{
    if (!s)
        return;
    free(s->seq_seen);
    free(s->series);
    free(s->frame_buf);
    free(s->iv.exact);
    free(s->iv.fine);
    free(s->iv.coarse);
    free(s->decode_buf);
    if (s->tj_handle)
        tjDestroy(s->tj_handle);
    series_recorder_free(s->rec);
    free(s);
}

const struct rtp_stream_metrics *rtp_stream_metrics(const struct rtp_stream *s)
{
    return &s->m;
}

const struct rtp_series *rtp_stream_series(const struct rtp_stream *s)
{
    return s->rec ? series_recorder_result(s->rec) : NULL;
}

size_t rtp_stream_memory(const struct rtp_stream *s)
{
    return s->heap + (s->rec ? series_recorder_memory(s->rec) : 0);
}

/* ---- sequence numbers ------------------------------------------------ */

/* What a packet did to the highest sequence number. */
enum seq_event {
    SEQ_ADVANCE, /* the first packet, or a new highest within A.1's dropout */
    SEQ_RESYNC,  /* A.1 restarted the count on this packet */
    SEQ_OTHER,   /* late, duplicate, or a jump not (yet) counted */
};

static bool seq_bit(const struct rtp_stream *s, uint16_t seq)
{
    return (s->seq_seen[seq >> 3] >> (seq & 7)) & 1;
}

static void seq_set(struct rtp_stream *s, uint16_t seq, bool on)
{
    if (on)
        s->seq_seen[seq >> 3] |= (uint8_t)(1u << (seq & 7));
    else
        s->seq_seen[seq >> 3] &= (uint8_t)~(1u << (seq & 7));
}

/* Loss, duplicates and reordering.
 *
 * Loss follows RFC 3550 A.1/A.3 through rtp_source with min_sequential 1,
 * so the first packet counts: expected = extended highest seq - base + 1,
 * lost = expected - received (received counts duplicates, as A.3 does).
 * When A.1 re-synchronises after a confirmed jump (3000 or more ahead, or
 * 100 or more behind, then the packet after it), the ended epoch's expected
 * and received are kept and summed, so a restart does not erase earlier
 * loss; the unconfirmed jump packet itself is in `uncounted`.
 *
 * tshark 4.0 counts expected from the LAST sequence number seen (plus its
 * own wrap heuristic) and received as every packet. The two agree when the
 * last packet carries the highest sequence number, A.1 never re-synced and
 * the wrap heuristic held; they differ when the capture ends on a late or
 * duplicated packet (tshark then reports less loss, or negative loss).
 *
 * Duplicates and reordering come from a bitmap of received sequence
 * numbers: a slot is cleared when max_seq moves past it, so a bit means
 * "received since the highest sequence number last passed here". A packet
 * at or behind the highest (within half the sequence space) whose bit is
 * set is a duplicate; one whose bit is clear is reordered.
 *
 * With opts.series, the recorder follows the same accounting: a counted
 * packet ahead by more than one records the gap it leaves, a counted late
 * packet (within A.1's misorder window, so the loss count takes it back)
 * takes its number out of the gap again, and a re-sync starts a new epoch
 * of extended numbers. */
static enum seq_event seq_account(struct rtp_stream *s, uint16_t seq, uint64_t frame,
                                  struct findings *f)
{
    if (s->m.packets == 1) {
        rtp_source_init(&s->src, seq, 1);
        rtp_source_update(&s->src, seq);
        seq_set(s, seq, true);
        if (seq <= 1)
            findings_add(f, CHK_RTP_SEQ_INITIAL, frame, 0, s->where,
                         "initial sequence number %u, expected a random value", seq);
        return SEQ_ADVANCE;
    }
    uint16_t max_before = s->src.max_seq;
    int32_t ahead = rtp_seq_diff(seq, max_before);
    int64_t exp_before = rtp_source_expected(&s->src);
    int64_t rec_before = s->src.received;
    uint32_t resyncs_before = s->src.resyncs;
    bool late = false; /* reordered, and counted: no longer lost */
    /* The packet after a jump that A.1 will take as a restart: the jump
     * was reported on its first packet. */
    bool confirms_jump = s->src.bad_seq == seq &&
                         (ahead >= RTP_MAX_DROPOUT || ahead <= -RTP_MAX_MISORDER);

    if (confirms_jump) {
        /* reported with the previous packet */
    } else if (ahead <= 0) {
        if (seq_bit(s, seq)) {
            s->m.duplicates++;
            findings_add(f, CHK_RTP_SEQ_DUPLICATE, frame, 0, s->where,
                         "seq %u received again (highest so far %u)", seq, max_before);
        } else {
            s->m.reordered++;
            late = -ahead < RTP_MAX_MISORDER;
            if (late)
                findings_add(f, CHK_RTP_SEQ_REORDER, frame, 0, s->where,
                             "seq %u arrived after seq %u (%d behind)", seq, max_before, -ahead);
            else
                findings_add(f, CHK_RTP_SEQ_REORDER, frame, 0, s->where,
                             "seq %u arrived after seq %u (%d behind, not within A.1's %d: not counted "
                             "unless the next packet follows it)",
                             seq, max_before, -ahead, RTP_MAX_MISORDER);
            s->jump_back_pending = -ahead >= RTP_MAX_MISORDER;
        }
    } else if (ahead == 2) {
        findings_add(f, CHK_RTP_SEQ_GAP, frame, 0, s->where, "expected seq %u, got %u (1 lost: %u)",
                     (uint16_t)(max_before + 1), seq, (uint16_t)(max_before + 1));
    } else if (ahead > 2 && ahead < RTP_MAX_DROPOUT) {
        findings_add(f, CHK_RTP_SEQ_GAP, frame, 0, s->where,
                     "expected seq %u, got %u (%d lost: %u-%u)", (uint16_t)(max_before + 1), seq,
                     ahead - 1, (uint16_t)(max_before + 1), (uint16_t)(seq - 1));
    } else if (ahead >= RTP_MAX_DROPOUT) {
        findings_add(f, CHK_RTP_SEQ_GAP, frame, 0, s->where,
                     "expected seq %u, got %u (jump of %d: not counted unless the next packet "
                     "follows it)", (uint16_t)(max_before + 1), seq, ahead);
    }

    bool counted = rtp_source_update(&s->src, seq);
    if (s->src.resyncs != resyncs_before) {
        /* A.1 restarted on this packet: keep the ended epoch. rec_before
         * does not include the jump packet, which A.1 left out. */
        s->expected_prev_epochs += exp_before;
        s->received_prev_epochs += rec_before;
        s->m.resyncs = s->src.resyncs;
        if (s->jump_back_pending && ahead < 0)
            s->m.reordered--; /* the jump back was a restart, not a late packet */
        s->jump_back_pending = false;
        memset(s->seq_seen, 0, SEQ_BITMAP_BYTES);
        seq_set(s, (uint16_t)(seq - 1), true);
        seq_set(s, seq, true);
        if (s->rec)
            series_record_resync(s->rec);
        return SEQ_RESYNC;
    }
    if (!counted) {
        s->m.uncounted++;
        return SEQ_OTHER;
    }
    s->jump_back_pending = false;
    if (ahead > 0) {
        /* Slots max_before+1 .. seq-1 hold a previous cycle's packets. */
        for (int32_t i = 1; i < ahead; i++)
            seq_set(s, (uint16_t)(max_before + i), false);
        if (s->rec && ahead > 1)
            series_record_gap(s->rec, rtp_source_ext_max(&s->src) - (uint32_t)(ahead - 1),
                              (uint32_t)(ahead - 1), s->m.last_ns, frame);
    } else if (s->rec && late) {
        series_record_late(s->rec, rtp_source_ext_max(&s->src) - (uint32_t)-ahead);
    }
    seq_set(s, seq, true);
    return ahead > 0 ? SEQ_ADVANCE : SEQ_OTHER;
}

static void loss_update(struct rtp_stream *s)
{
    s->m.expected = s->expected_prev_epochs + rtp_source_expected(&s->src);
    int64_t received = s->received_prev_epochs + (int64_t)s->src.received;
    s->m.lost = s->m.expected - received;
    s->m.loss_rate = s->m.expected > 0 ? (double)s->m.lost / (double)s->m.expected : 0.0;
}

/* ---- jitter as tshark computes it ------------------------------------ */

/* tshark 4.0.17 (ui/tap-rtp-analysis.c, rtppacket_analyse), for the numbers
 * `-z rtp,streams` prints as Mean and Max Jitter. Read from the source and
 * confirmed against the installed tshark on captures with loss,
 * duplicates, reordering, arrival noise, a timestamp wrap and a stream
 * whose first packet is not its earliest:
 *   - times are arrival times in ms; the first packet only initialises
 *     (jitter 0, nothing averaged) and is the timestamp reference;
 *   - a packet is "in time sequence" when its timestamp is less than 2^31
 *     ahead of the FIRST packet's (mod 2^32). A packet that is not (a late
 *     packet older than the first, or any packet more than 2^31 ticks,
 *     6.6 h at 90 kHz, into the stream) is "wrong timestamp": it changes
 *     nothing at all, not even the running jitter;
 *   - every in-time packet updates the running jitter of RFC 3550 6.4.1,
 *     in ms: D = arrival - (arrival of the previous in-time packet +
 *     (its timestamp distance from the first - the previous one's) /
 *     (clock / 1000)), J = (15 J + |D|) / 16. A reordered packet is
 *     measured against the packet before it in capture order;
 *   - only "regular" packets feed max and mean: not the first, not a
 *     marker packet, in time, not comfort noise (PT 13 or 19) and not
 *     right after comfort noise;
 *   - the mean is tshark's running formula mean = (mean * (n - 1) + J) / n
 *     with n the number of packets BEFORE this one (every packet, regular
 *     or not), which is what it prints; max is the largest J.
 * tshark knows the clock only for static PTs and SDP-described dynamic
 * ones (it prints 0 jitter otherwise); we use the opts/PT clock always. It
 * divides by clock / 1000 in integer arithmetic; we divide exactly (equal
 * for every clock that is a multiple of 1000 Hz, 90 kHz included). */
static void tshark_jitter_update(struct rtp_stream *s, const struct rtp_header *h, int64_t arrival_ns)
{
    struct tshark_jitter *t = &s->tj;
    double now_ms = (double)(arrival_ns - s->m.first_ns) / 1e6;
    if (!t->started) {
        t->started = true;
        t->time_ms = now_ms;
        t->first_ts = h->timestamp;
        t->last_nominal_ms = 0;
        t->pt = h->payload_type;
        t->total_nr = 1;
        return;
    }
    uint32_t since_first = h->timestamp - t->first_ts;
    bool in_time = since_first < 0x80000000u;
    bool cn = h->payload_type == PT_CN || h->payload_type == PT_CN_OLD;
    bool follow_cn = t->pt == PT_CN || t->pt == PT_CN_OLD;
    t->pt = h->payload_type;
    if (in_time) {
        double nominal_ms = (double)since_first / ((double)s->m.clock_rate / 1000.0);
        double diff = fabs(now_ms - (t->time_ms + (nominal_ms - t->last_nominal_ms)));
        t->jitter = (15.0 * t->jitter + diff) / 16.0;
        t->last_nominal_ms = nominal_ms;
    }
    if (!h->marker && in_time && !cn && !follow_cn) {
        if (t->jitter > t->max)
            t->max = t->jitter;
        t->mean = (t->mean * (double)(t->total_nr - 1) + t->jitter) / (double)t->total_nr;
    }
    if (in_time)
        t->time_ms = now_ms;
    t->total_nr++;
    s->m.mean_jitter_ms = t->mean;
    s->m.max_jitter_ms = t->max;
    s->m.mean_jitter_ts = t->mean * (double)s->m.clock_rate / 1000.0;
    s->m.max_jitter_ts = t->max * (double)s->m.clock_rate / 1000.0;
}

/* ---- bitrate --------------------------------------------------------- */

static void series_add(struct rtp_stream *s, int64_t arrival_ns, size_t payload_len)
{
    int64_t rel = arrival_ns - s->m.first_ns;
    size_t sec = rel > 0 ? (size_t)(rel / 1000000000LL) : 0;
    if (sec >= RTPS_SERIES_MAX) {
        s->m.bitrate_series_truncated = true;
        return;
    }
    if (sec >= s->series_cap) {
        size_t cap = s->series_cap ? s->series_cap : 64;
        while (cap <= sec)
            cap *= 2;
        if (cap > RTPS_SERIES_MAX)
            cap = RTPS_SERIES_MAX;
        double *bigger = realloc(s->series, cap * sizeof *bigger);
        if (!bigger) {
            s->m.bitrate_series_truncated = true;
            return;
        }
        memset(bigger + s->series_cap, 0, (cap - s->series_cap) * sizeof *bigger);
        s->heap += (cap - s->series_cap) * sizeof *bigger;
        s->series = bigger;
        s->series_cap = cap;
        s->m.bitrate_series_bps = bigger;
    }
    s->series[sec] += (double)payload_len * 8.0;
    if (sec + 1 > s->m.bitrate_series_len)
        s->m.bitrate_series_len = sec + 1;
}

/* ---- frame intervals ------------------------------------------------- */

static size_t hist_bin_fine(double v)
{
    if (!(v > 0))
        return 0;
    size_t b = (size_t)(v * 100.0);
    return b < HIST_FINE_BINS ? b : HIST_FINE_BINS - 1;
}

static void iv_bin(struct interval_hist *iv, double v)
{
    if (v < RTPS_HIST_FINE_MS) {
        iv->fine[hist_bin_fine(v)]++;
    } else if (v < RTPS_HIST_COARSE_MS) {
        size_t b = (size_t)(v - RTPS_HIST_FINE_MS);
        iv->coarse[b < HIST_COARSE_BINS ? b : HIST_COARSE_BINS - 1]++;
    } else {
        iv->overflow++;
    }
}

static void iv_add(struct rtp_stream *s, double v)
{
    struct interval_hist *iv = &s->iv;
    iv->n++;
    iv->sum += v;
    if (v < iv->min)
        iv->min = v;
    if (v > iv->max || iv->n == 1)
        iv->max = v;
    if (s->opt.nominal_fps > 0 && v > 3.0 * 1000.0 / s->opt.nominal_fps)
        s->stalls_online++;
    if (!iv->fine) {
        if (!iv->exact)
            iv->exact = xalloc(s, RTPS_EXACT_INTERVALS * sizeof(double));
        if (iv->exact && iv->n_exact < RTPS_EXACT_INTERVALS) {
            iv->exact[iv->n_exact++] = v;
            return;
        }
        /* Switch to the histogram, moving the exact samples into it. */
        iv->fine = xalloc(s, HIST_FINE_BINS * sizeof(uint32_t));
        iv->coarse = xalloc(s, HIST_COARSE_BINS * sizeof(uint32_t));
        if (!iv->fine || !iv->coarse) {
            xfree(s, iv->fine, HIST_FINE_BINS * sizeof(uint32_t));
            xfree(s, iv->coarse, HIST_COARSE_BINS * sizeof(uint32_t));
            iv->fine = NULL;
            iv->coarse = NULL;
            iv->n--; /* out of memory: the sample is dropped */
            iv->sum -= v;
            return;
        }
        for (size_t i = 0; i < iv->n_exact; i++)
            iv_bin(iv, iv->exact[i]);
        xfree(s, iv->exact, RTPS_EXACT_INTERVALS * sizeof(double));
        iv->exact = NULL;
        iv->n_exact = 0;
    }
    iv_bin(iv, v);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile p (0 < p <= 100): the value at rank
 * ceil(p/100 * n). Exact while the samples are kept (sorted by
 * rtp_stream_finish), else the midpoint of the bin holding that rank. */
static double iv_percentile(const struct interval_hist *iv, double p)
{
    if (iv->n == 0)
        return 0;
    uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)iv->n);
    if (rank < 1)
        rank = 1;
    if (rank > iv->n)
        rank = iv->n;
    if (!iv->fine)
        return iv->exact ? iv->exact[rank - 1] : 0;
    uint64_t seen = 0;
    double v = iv->max;
    bool found = false;
    for (size_t i = 0; i < HIST_FINE_BINS && !found; i++) {
        seen += iv->fine[i];
        if (seen >= rank) {
            v = ((double)i + 0.5) * 0.01;
            found = true;
        }
    }
    for (size_t i = 0; i < HIST_COARSE_BINS && !found; i++) {
        seen += iv->coarse[i];
        if (seen >= rank) {
            v = RTPS_HIST_FINE_MS + (double)i + 0.5;
            found = true;
        }
    }
    if (v < iv->min)
        v = iv->min;
    if (v > iv->max)
        v = iv->max;
    return v;
}

/* Intervals above threshold, once the nominal interval is only known at the
 * end: exact from the samples, or by bin midpoint from the histogram. */
static uint64_t iv_count_above(const struct interval_hist *iv, double threshold)
{
    uint64_t n = 0;
    if (!iv->fine) {
        for (size_t i = 0; i < iv->n_exact; i++)
            n += iv->exact[i] > threshold;
        return n;
    }
    for (size_t i = 0; i < HIST_FINE_BINS; i++)
        if (((double)i + 0.5) * 0.01 > threshold)
            n += iv->fine[i];
    for (size_t i = 0; i < HIST_COARSE_BINS; i++)
        if (RTPS_HIST_FINE_MS + (double)i + 0.5 > threshold)
            n += iv->coarse[i];
    if (RTPS_HIST_COARSE_MS > threshold || iv->max > threshold)
        n += iv->overflow;
    return n;
}

/* ---- complete frames -------------------------------------------------- */

/* Fixture numbering. A number one above the highest is in order; higher
 * skips the numbers between (frame.skipped, one finding per jump); equal to
 * one of the last NUM_WINDOW numbers already seen repeats it
 * (frame.repeated); below the highest and not seen is out of order
 * (frame.order) and, when it was counted as skipped, no longer is; more
 * than NUM_WINDOW below the highest starts a new run (a loop, a
 * BACKWARD), one frame.order finding. */
static void numbered_account(struct rtp_stream *s, uint32_t n, uint64_t frame, struct findings *f)
{
    struct rtp_stream_numbered *nb = &s->m.frames.numbered;
    if (!s->num_have) {
        s->num_have = true;
        nb->present = true;
        nb->first = nb->last = n;
        s->num_run_start = n;
        s->num_mask = 1;
        return;
    }
    uint32_t hi = nb->last;
    if (n > hi) {
        uint32_t d = n - hi;
        if (d > 1) {
            nb->skipped += d - 1;
            findings_add(f, CHK_FRAME_SKIPPED, frame, 0, s->where,
                         "expected frame %u, got frame %u (%u skipped)", hi + 1, n, d - 1);
        }
        s->num_mask = d >= NUM_WINDOW ? 1 : (s->num_mask << d) | 1;
        nb->last = n;
        return;
    }
    uint32_t back = hi - n;
    if (back < NUM_WINDOW) {
        uint64_t bit = (uint64_t)1 << back;
        if (s->num_mask & bit) {
            nb->repeated++;
            findings_add(f, CHK_FRAME_REPEATED, frame, 0, s->where,
                         "frame %u again (highest so far %u)", n, hi);
        } else {
            nb->out_of_order++;
            if (n > s->num_run_start && nb->skipped > 0)
                nb->skipped--;
            s->num_mask |= bit;
            findings_add(f, CHK_FRAME_ORDER, frame, 0, s->where,
                         "frame %u arrived after frame %u", n, hi);
        }
        return;
    }
    nb->out_of_order++;
    findings_add(f, CHK_FRAME_ORDER, frame, 0, s->where,
                 "frame %u after frame %u: numbering went back %u, a new run starts", n, hi, back);
    nb->last = n;
    s->num_run_start = n;
    s->num_mask = 1;
}

/* Decode one complete frame; true when it was decoded and failed. */
static bool decode_frame(struct rtp_stream *s, const uint8_t *jpeg, size_t len, uint64_t frame,
                         struct findings *f)
{
    if (!s->tj_handle) {
        s->tj_handle = tjInitDecompress();
        if (!s->tj_handle)
            return false;
    }
    tjhandle tj = s->tj_handle;
    int w = 0, h = 0, subsamp = 0, cs = 0;
    if (tjDecompressHeader3(tj, jpeg, (unsigned long)len, &w, &h, &subsamp, &cs) != 0) {
        s->m.frames.decoded++;
        s->m.frames.undecodable++;
        findings_add(f, CHK_FRAME_UNDECODABLE, frame, 0, s->where,
                     "complete frame (%zu bytes) does not decode: %s", len, tjGetErrorStr2(tj));
        return true;
    }
    if (w > DECODE_MAX_SIDE || h > DECODE_MAX_SIDE)
        return false;
    /* 1/8 scale: every coefficient is still entropy-decoded, so any
     * corruption shows, at a fraction of the IDCT and memory cost. */
    tjscalingfactor sf = {1, 8};
    int sw = TJSCALED(w, sf), sh = TJSCALED(h, sf);
    size_t need = (size_t)sw * (size_t)sh;
    if (need > s->decode_cap) {
        uint8_t *bigger = realloc(s->decode_buf, need);
        if (!bigger)
            return false;
        s->heap += need - s->decode_cap;
        s->decode_buf = bigger;
        s->decode_cap = need;
    }
    s->m.frames.decoded++;
    if (tjDecompress2(tj, jpeg, (unsigned long)len, s->decode_buf, sw, 0, sh, TJPF_GRAY, 0) != 0) {
        s->m.frames.undecodable++;
        findings_add(f, CHK_FRAME_UNDECODABLE, frame, 0, s->where,
                     "complete %dx%d frame (%zu bytes) does not decode: libjpeg-turbo %s: %s", w, h,
                     len, tjGetErrorCode(tj) == TJERR_WARNING ? "warning" : "error",
                     tjGetErrorStr2(tj));
        return true;
    }
    return false;
}

/* A complete frame arrived with this packet (RTP timestamp rtp_ts); number
 * is its fixture number or -1. Only lab frames can carry one: RFC 2435 has no room for a COM
 * segment, so rebuilt frames never do. */
static void frame_complete(struct rtp_stream *s, const uint8_t *jpeg, size_t len, int64_t number,
                           uint32_t rtp_ts, int64_t arrival_ns, uint64_t frame, struct findings *f)
{
    uint64_t index = s->m.frames.complete++;
    double interval_ms = NAN;
    if (s->have_frame_time) {
        interval_ms = (double)(arrival_ns - s->frame_time_ns) / 1e6;
        iv_add(s, interval_ms);
    }
    s->have_frame_time = true;
    s->frame_time_ns = arrival_ns;

    if (number >= 0)
        numbered_account(s, (uint32_t)number, frame, f);

    bool corrupt = false;
    if (s->opt.decode == DECODE_ALL ||
        (s->opt.decode == DECODE_SAMPLE && index % RTPS_SAMPLE_EVERY == 0))
        corrupt = decode_frame(s, jpeg, len, frame, f);

    /* rtp_stream_packet ran the jitter update on this packet already. */
    if (s->rec) {
        struct series_frame fr = {arrival_ns, interval_ms, s->tj.jitter, frame, rtp_ts};
        series_record_frame(s->rec, jpeg, len, &fr, corrupt);
    }
}

static void report_incomplete(struct rtp_stream *s, const struct rtpjpeg_incomplete *in, uint64_t frame,
                              bool at_end, struct findings *f)
{
    s->m.frames.incomplete++;
    if (s->rec)
        series_record_incomplete(s->rec);
    char missing[160] = "";
    size_t used = 0;
    for (size_t i = 0; i < in->nmissing && used + 1 < sizeof missing; i++) {
        int n;
        if (in->missing[i].len)
            n = snprintf(missing + used, sizeof missing - used, "%s%u-%u", i ? "," : "",
                         in->missing[i].offset, in->missing[i].offset + in->missing[i].len - 1);
        else
            n = snprintf(missing + used, sizeof missing - used, "%s%u-end", i ? "," : "",
                         in->missing[i].offset);
        if (n < 0 || (size_t)n >= sizeof missing - used)
            break;
        used += (size_t)n;
    }
    char end[40];
    if (in->end_known)
        snprintf(end, sizeof end, "of %u", in->scan_len);
    else
        snprintf(end, sizeof end, "(no marker packet)");
    findings_add(f, CHK_FRAME_INCOMPLETE, frame, 0, s->where,
                 "frame ts %u%s: seq %u-%u, %u packets, %u bytes %s; missing bytes %s",
                 in->timestamp, at_end ? " at end of capture" : "", in->first_seq, in->last_seq,
                 in->packets, in->received, end, in->nmissing ? missing : "none");
}

/* Map a depacketizer rejection to the check it breaks. */
static enum check_id depacketizer_check(const char *reason)
{
    if (!reason)
        return CHK_RTP_MALFORMED;
    if (strstr(reason, "timestamp changes"))
        return CHK_RTP_TS_FRAME;
    if (strstr(reason, "marker packet"))
        return CHK_RTP_MARKER;
    if (strstr(reason, "tables never came"))
        return CHK_FRAME_UNDECODABLE;
    return CHK_RTP_MALFORMED;
}

static bool frame_buf_grow(struct rtp_stream *s)
{
    if (s->frame_cap >= FRAME_BUF_MAX)
        return false;
    size_t cap = s->frame_cap * 2;
    if (cap > FRAME_BUF_MAX)
        cap = FRAME_BUF_MAX;
    uint8_t *bigger = realloc(s->frame_buf, cap);
    if (!bigger)
        return false;
    s->heap += cap - s->frame_cap;
    s->frame_buf = bigger;
    s->frame_cap = cap;
    /* The depacketizer keeps offsets into its buffer, not pointers other
     * than buf itself, so the frame in progress survives the move. */
    s->dp.buf = bigger;
    s->dp.cap = cap;
    return true;
}

static void rfc2435_packet(struct rtp_stream *s, const struct rtp_header *h, int64_t arrival_ns,
                           uint64_t frame, struct findings *f)
{
    if (!s->frame_buf) {
        s->frame_buf = xalloc(s, FRAME_BUF_INITIAL);
        if (!s->frame_buf)
            return;
        s->frame_cap = FRAME_BUF_INITIAL;
        if (rtpjpeg_depacketizer_init(&s->dp, s->frame_buf, s->frame_cap, NULL) != 0)
            return;
    }
    for (int tries = 0; tries < 32; tries++) {
        struct wire_error err = {0, NULL};
        int rc = rtpjpeg_depacketize_push(&s->dp, h->payload, h->payload_len, h->timestamp, h->marker,
                                          h->seq, &err);
        if (rc == RTPJPEG_INCOMPLETE) {
            report_incomplete(s, &s->dp.incomplete, frame, false, f);
            continue; /* the payload was not consumed */
        }
        if (rc == RTPJPEG_COMPLETE) {
            frame_complete(s, s->dp.frame, s->dp.frame_len, -1, h->timestamp, arrival_ns, frame, f);
            return;
        }
        if (rc == WIRE_ERROR) {
            if (err.reason && strstr(err.reason, "frame buffer capacity") && frame_buf_grow(s))
                continue;
            enum check_id c = depacketizer_check(err.reason);
            if (c == CHK_FRAME_UNDECODABLE) {
                /* Every fragment came but the frame cannot be rebuilt. */
                s->m.frames.complete++;
                s->m.frames.undecodable++;
                if (s->rec)
                    series_record_incomplete(s->rec); /* nothing to show: a loss for the thumbnails */
            }
            findings_add(f, c, frame, 0, s->where, "RFC 2435 payload of seq %u (ts %u): %s at byte %zu",
                         h->seq, h->timestamp, err.reason ? err.reason : "rejected", err.offset);
        }
        return; /* ACCEPTED, LATE or rejected */
    }
}

/* Lab with a reference movie: is this whole frame the movie's frame key? */
static void reference_account(struct rtp_stream *s, const uint8_t *jpeg, size_t len, uint32_t key)
{
    const struct rtp_reference *ref = s->opt.reference;
    if (!ref)
        return;
    bool same = key >= 1 && key <= ref->n && ref->lens[key - 1] == len && memcmp(ref->frames[key - 1], jpeg, len) == 0;
    if (same)
        s->m.frames.identical++;
    else
        s->m.frames.different++;
}

/* Lab: the packet is a frame; whole when it is a JPEG from SOI to EOI. */
static void lab_packet(struct rtp_stream *s, const struct rtp_header *h, int64_t arrival_ns, uint64_t frame,
                       struct findings *f)
{
    struct wire_error err = {0, NULL};
    uint32_t number;
    bool soi = h->payload_len >= 2 && h->payload[0] == 0xFF && h->payload[1] == JPEG_SOI;
    int rc = soi ? jpeg_frame_number(h->payload, h->payload_len, &number, &err) : WIRE_ERROR;
    if (rc >= 0) {
        frame_complete(s, h->payload, h->payload_len, rc == 1 ? (int64_t)number : -1, h->timestamp,
                       arrival_ns, frame, f);
        reference_account(s, h->payload, h->payload_len, rc == 1 ? number : h->seq);
        return;
    }
    s->m.frames.incomplete++;
    if (s->rec)
        series_record_incomplete(s->rec);
    if (!soi)
        findings_add(f, CHK_FRAME_INCOMPLETE, frame, 0, s->where,
                     "seq %u: payload of %zu bytes does not start with a JPEG SOI (FFD8)", h->seq,
                     h->payload_len);
    else
        findings_add(f, CHK_FRAME_INCOMPLETE, frame, 0, s->where,
                     "seq %u: payload of %zu bytes is not a whole JPEG: %s at byte %zu", h->seq,
                     h->payload_len, err.reason ? err.reason : "malformed", err.offset);
}

/* RFC 2435 frame boundaries (PT 26 only: other payload formats give the
 * marker bit other meanings), judged on consecutive sequence numbers only
 * (a loss could have taken the marker packet): a timestamp change after a
 * packet without the marker is a missing marker when the new packet starts
 * a frame (fragment offset 0), and a frame whose packets carry different
 * timestamps when it continues one (offset > 0); a marker followed by a
 * packet of the same timestamp that continues the frame (offset > 0) was
 * set mid-frame. */
static void frame_boundary_checks(struct rtp_stream *s, const struct rtp_header *h, uint64_t frame,
                                  struct findings *f)
{
    if (!s->have_prev || h->seq != (uint16_t)(s->last_seq + 1) || h->payload_type != PT_JPEG ||
        h->payload_len < RTPJPEG_HEADER_LEN)
        return;
    uint32_t offset = wire_get_be24(h->payload + 1);
    if (h->timestamp != s->prev_ts && !s->prev_marker) {
        if (offset > 0)
            findings_add(f, CHK_RTP_TS_FRAME, frame, 0, s->where,
                         "seq %u continues a frame (fragment offset %u) with timestamp %u, "
                         "the frame's is %u", h->seq, offset, h->timestamp, s->prev_ts);
        else
            findings_add(f, CHK_RTP_MARKER, s->prev_frame, 0, s->where,
                         "seq %u ends frame ts %u without the marker (seq %u starts ts %u)",
                         s->last_seq, s->prev_ts, h->seq, h->timestamp);
    } else if (h->timestamp == s->prev_ts && s->prev_marker && offset > 0) {
        findings_add(f, CHK_RTP_MARKER, s->prev_frame, 0, s->where,
                     "marker on seq %u in the middle of frame ts %u (seq %u continues at offset %u)",
                     s->last_seq, s->prev_ts, h->seq, offset);
    }
}

/* ---- per packet -------------------------------------------------------- */

static void quiet_count(struct rtp_stream *s, int64_t arrival_ns, uint64_t frame, struct findings *f)
{
    struct quiet_window *q = &s->quiet;
    if (!q->open || arrival_ns < q->since_ns)
        return;
    if (q->n == 0)
        q->first_frame = frame;
    q->n++;
    if (arrival_ns - q->since_ns <= RTPS_QUIET_GRACE_NS)
        q->n_grace++;
    q->last_frame = frame;
    q->last_ns = arrival_ns;
    q->f = f;
    s->m.after_quiet++;
}

static void packet_in(struct rtp_stream *s, const uint8_t *pkt, size_t len, size_t wire_len, int64_t arrival_ns,
                      uint64_t frame, struct findings *f);

void rtp_stream_packet(struct rtp_stream *s, const uint8_t *pkt, size_t len, int64_t arrival_ns,
                       uint64_t frame, struct findings *f)
{
    packet_in(s, pkt, len, len, arrival_ns, frame, f);
}

void rtp_stream_packet_cut(struct rtp_stream *s, const uint8_t *pkt, size_t len, size_t wire_len,
                           int64_t arrival_ns, uint64_t frame, struct findings *f)
{
    packet_in(s, pkt, len, wire_len > len ? wire_len : len, arrival_ns, frame, f);
}

static void packet_in(struct rtp_stream *s, const uint8_t *pkt, size_t len, size_t wire_len, int64_t arrival_ns,
                      uint64_t frame, struct findings *f)
{
    if (s->finished)
        return;
    bool cut = wire_len > len;
    bool wrong_version = len >= 1 && (pkt[0] >> 6) != RTP_VERSION;
    struct rtp_header h;
    struct wire_error err = {0, NULL};
    if (wrong_version) {
        findings_add(f, CHK_RTP_VERSION, frame, 0, s->where, "RTP version %u, expected 2", pkt[0] >> 6);
        /* A lab client never reads the version: the rest of the stream is
         * still judged. Elsewhere the packet is not RTP we can trust. */
        if (!s->opt.lab) {
            s->m.malformed++;
            return;
        }
    }
    if (cut) {
        /* Only the header is judged: padding and payload lengths are the
         * wire's, which the cut bytes cannot show. */
        if (len < 12 || rtp_parse_any_version(pkt, len, &h, &err) < 0)
            return;
        h.payload_len = wire_len - (size_t)(h.payload - pkt);
    } else if ((wrong_version ? rtp_parse_any_version(pkt, len, &h, &err) : rtp_parse(pkt, len, &h, &err)) < 0) {
        s->m.malformed++;
        findings_add(f, CHK_RTP_MALFORMED, frame, 0, s->where, "%s (byte %zu of %zu)",
                     err.reason ? err.reason : "RTP packet does not parse", err.offset, len);
        return;
    }

    s->m.packets++;
    if (s->m.packets == 1) {
        s->m.started = true;
        s->m.ssrc = h.ssrc;
        s->m.payload_type = h.payload_type;
        s->m.clock_rate = s->opt.clock_rate ? s->opt.clock_rate : clock_for_pt(h.payload_type);
        s->m.first_ns = arrival_ns;
        s->first_frame_no = frame;
    } else {
        double d = (double)(arrival_ns - s->prev_ns) / 1e6;
        if (s->delta_n == 0 || d < s->m.min_delta_ms)
            s->m.min_delta_ms = d;
        if (s->delta_n == 0 || d > s->m.max_delta_ms)
            s->m.max_delta_ms = d;
        s->delta_sum_ms += d;
        s->delta_n++;
        s->m.mean_delta_ms = s->delta_sum_ms / (double)s->delta_n;
    }
    s->m.last_ns = arrival_ns;
    s->last_frame_no = frame;
    s->m.bytes += h.payload_len;
    if (h.payload_len > s->max_payload)
        s->max_payload = h.payload_len;
    series_add(s, arrival_ns, h.payload_len);
    if (arrival_ns > s->m.first_ns)
        s->m.bitrate_bps = (double)s->m.bytes * 8.0 / ((double)(arrival_ns - s->m.first_ns) / 1e9);

    /* Payload type: against the SDP's, or against the stream's first. */
    int want = s->opt.expected_pt >= 0 ? s->opt.expected_pt : s->m.payload_type;
    if (h.payload_type != want && h.payload_type != s->reported_pt) {
        s->reported_pt = h.payload_type;
        findings_add(f, CHK_RTP_PAYLOAD_TYPE, frame, 0, s->where, "payload type %u, expected %d%s",
                     h.payload_type, want, s->opt.expected_pt >= 0 ? "" : " (the stream's first)");
    } else if (h.payload_type == want) {
        s->reported_pt = -1;
    }

    enum seq_event ev = seq_account(s, h.seq, frame, f);
    loss_update(s);
    tshark_jitter_update(s, &h, arrival_ns);

    /* Clock check pairs: successive new-highest packets, not across a
     * pause or a sequence restart. */
    if (ev != SEQ_OTHER) {
        int64_t gap = arrival_ns - s->inorder_ns;
        if (ev == SEQ_ADVANCE && s->have_inorder && !s->clock_break && gap >= 0 &&
            gap <= CLOCK_GAP_MAX_NS) {
            int32_t advance = (int32_t)(h.timestamp - s->inorder_ts);
            s->clock_ts_sum += (double)advance;
            s->clock_ns_sum += gap;
            s->ts_moved = s->ts_moved || advance != 0;
            if (advance < 0 && s->ts_backwards++ == 0) {
                s->ts_back_frame = frame;
                s->ts_back_from = s->inorder_ts;
                s->ts_back_to = h.timestamp;
            }
        }
        s->clock_break = false;
        s->have_inorder = true;
        s->inorder_ts = h.timestamp;
        s->inorder_ns = arrival_ns;
    }

    quiet_count(s, arrival_ns, frame, f);

    if (cut) {
        /* no payload to judge */
    } else if (s->opt.lab) {
        if (!h.marker)
            s->marker_zero++;
        lab_packet(s, &h, arrival_ns, frame, f);
    } else {
        frame_boundary_checks(s, &h, frame, f);
        if (h.payload_type == PT_JPEG)
            rfc2435_packet(s, &h, arrival_ns, frame, f);
    }

    s->have_prev = true;
    s->last_seq = h.seq;
    s->prev_ts = h.timestamp;
    s->prev_marker = h.marker;
    s->prev_frame = frame;
    s->prev_ns = arrival_ns;
}

/* ---- RTCP, PAUSE, TEARDOWN --------------------------------------------- */

/* rtcp.sr.counts. An SR's packet and octet counts cover what the sender
 * sent up to the moment it wrote the SR; at that moment some packets may
 * still be in flight and some may be lost, so counts above what we
 * received are normal. Two things are not:
 *   - fewer packets (octets) than we already received, duplicates left
 *     out: the sender undercounts;
 *   - more packets than the sender can have sent: our extended highest
 *     sequence number says how many it sent (expected, A.3, summed over
 *     re-syncs); the SR may be ahead of that only by packets in flight.
 * Both allow a slack of SR_SLACK_PACKETS plus SR_SLACK_FRACTION of the
 * count (octets: that many packets of the largest payload seen, plus the
 * octets of the lost packets at that size). Counts are compared modulo
 * 2^32, as they wrap. One finding per SR, naming what is off. This assumes the capture holds the stream from its
 * first packet; a capture started mid-stream makes the SR look ahead. */
void rtp_stream_sender_report(struct rtp_stream *s, const struct rtcp_sender_info *si, uint64_t frame,
                              struct findings *f)
{
    if (!s->m.started || s->finished)
        return;
    uint64_t received = s->m.packets - s->m.duplicates;
    double slack = SR_SLACK_PACKETS + SR_SLACK_FRACTION * (double)si->packet_count;
    int64_t sent = s->m.expected > 0 ? s->m.expected : 0;
    char what[2][120];
    int n = 0;

    int32_t under = (int32_t)((uint32_t)received - si->packet_count); /* > 0: SR claims fewer */
    int32_t over = (int32_t)(si->packet_count - (uint32_t)sent);     /* > 0: SR claims more */
    if (under > slack)
        snprintf(what[n++], sizeof what[0], "SR packet count %u, but %llu RTP packets were already received",
                 si->packet_count, (unsigned long long)received);
    else if (over > slack)
        snprintf(what[n++], sizeof what[0], "SR packet count %u, but the highest sequence number implies %lld sent",
                 si->packet_count, (long long)sent);

    /* Octets of received packets; duplicates are taken at the mean size. */
    uint64_t dup_bytes = s->m.packets ? s->m.bytes / s->m.packets * s->m.duplicates : 0;
    uint64_t octets = s->m.bytes - dup_bytes;
    double oslack = slack * (double)s->max_payload;
    int64_t lost = s->m.lost > 0 ? s->m.lost : 0;
    int32_t ounder = (int32_t)((uint32_t)octets - si->octet_count);
    int32_t oover = (int32_t)(si->octet_count - (uint32_t)octets);
    if (ounder > oslack)
        snprintf(what[n++], sizeof what[0], "SR octet count %u, but %llu RTP payload octets were already received",
                 si->octet_count, (unsigned long long)octets);
    else if (oover > oslack + (double)lost * (double)s->max_payload)
        snprintf(what[n++], sizeof what[0],
                 "SR octet count %u, more than the %llu received plus %lld lost packets can hold",
                 si->octet_count, (unsigned long long)octets, (long long)lost);
    if (n == 1)
        findings_add(f, CHK_RTCP_SR_COUNTS, frame, 0, s->where, "%s", what[0]);
    else if (n == 2)
        findings_add(f, CHK_RTCP_SR_COUNTS, frame, 0, s->where, "%s; %s", what[0], what[1]);
}

static void quiet_close(struct rtp_stream *s)
{
    struct quiet_window *q = &s->quiet;
    if (!q->open)
        return;
    q->open = false;
    if (q->n == 0 || q->n == q->n_grace || !q->f)
        return; /* nothing, or only the tail of a frame already under way */
    findings_add(q->f, q->why, q->first_frame, q->last_frame, s->where,
                 "%llu RTP packets after the %s reply (frame %llu), %llu of them within %lld ms; "
                 "the last %.1f ms after the reply",
                 (unsigned long long)q->n, q->why == CHK_RTP_AFTER_TEARDOWN ? "TEARDOWN" : "PAUSE",
                 (unsigned long long)q->reply_frame, (unsigned long long)q->n_grace,
                 RTPS_QUIET_GRACE_NS / 1000000, (double)(q->last_ns - q->since_ns) / 1e6);
}

/* Packets that arrive after the reply are counted. Those within
 * RTPS_QUIET_GRACE_NS (100 ms) may be the rest of a frame the server had
 * started sending before it handled the request; alone they are no
 * finding. If any packet comes later than that, the window yields exactly
 * one finding when it closes (PLAY, a new window, or the end of the
 * capture): frame range first..last packet after the reply, the count, how
 * many were in the grace period and how long after the reply the last
 * came. The API gives quiet and resume no findings list: the finding goes
 * to the list the window's packets came with. */
void rtp_stream_quiet(struct rtp_stream *s, int64_t since_ns, enum check_id why, uint64_t frame)
{
    if (s->finished)
        return;
    quiet_close(s);
    s->quiet = (struct quiet_window){
        .open = true,
        .why = why,
        .since_ns = since_ns,
        .reply_frame = frame,
    };
}

bool rtp_stream_seq_behind(const struct rtp_stream *s, uint16_t seq)
{
    /* Within half the sequence space behind: older, not wrapped ahead. */
    return s->m.started && (int16_t)(uint16_t)(seq - s->src.max_seq) < 0;
}

bool rtp_stream_seq_before_first(const struct rtp_stream *s, uint16_t seq)
{
    return s->m.started && (int16_t)(uint16_t)(seq - (uint16_t)s->src.base_seq) < 0;
}

void rtp_stream_resume(struct rtp_stream *s, uint64_t frame)
{
    (void)frame;
    if (s->finished)
        return;
    quiet_close(s);
    s->have_frame_time = false; /* no frame interval across a pause */
    s->clock_break = true;      /* nor a clock pair: timestamps hold still while paused, and jump on a seek */
}

/* ---- end of capture ---------------------------------------------------- */

/* rtp.timestamp.clock: over pairs of consecutive in-order packets no more
 * than CLOCK_GAP_MAX_NS apart (pauses and stalls left out, since timestamps
 * need not advance while paused), the timestamp advance divided by the
 * arrival advance is the sender's clock. Once CLOCK_MIN_SPAN_NS of arrival
 * time is covered, a clock off by more than CLOCK_TOLERANCE (20%: network
 * jitter at both ends of a 2 s span is far less) is reported: the lab's
 * 1 Hz wall clock, a 1000 Hz clock, frame x 100 ... */
/* rtp.timestamp.advance: over the same pairs, a timestamp never goes
 * back, and some advance once TS_FROZEN_SPAN_NS of arrivals are covered
 * (the lab's 1 Hz wall clock advances every second; a frozen one never). */
static void advance_check(struct rtp_stream *s, struct findings *f)
{
    if (s->ts_backwards)
        findings_add(f, CHK_RTP_TS_ADVANCE, s->ts_back_frame, 0, s->where,
                     "timestamp went back from %u to %u on a packet in sequence (%llu time%s)", s->ts_back_from,
                     s->ts_back_to, (unsigned long long)s->ts_backwards, s->ts_backwards == 1 ? "" : "s");
    else if (!s->ts_moved && s->clock_ns_sum >= TS_FROZEN_SPAN_NS)
        findings_add(f, CHK_RTP_TS_ADVANCE, s->first_frame_no, s->last_frame_no, s->where,
                     "timestamp stays %u over %.1f s of packets in sequence", s->inorder_ts,
                     (double)s->clock_ns_sum / 1e9);
}

static void clock_check(struct rtp_stream *s, struct findings *f)
{
    if (s->clock_ns_sum < CLOCK_MIN_SPAN_NS || s->m.clock_rate == 0)
        return;
    double hz = s->clock_ts_sum / ((double)s->clock_ns_sum / 1e9);
    double nominal = (double)s->m.clock_rate;
    if (fabs(hz - nominal) > CLOCK_TOLERANCE * nominal)
        findings_add(f, CHK_RTP_TS_CLOCK, s->first_frame_no, s->last_frame_no, s->where,
                     "timestamps advance at %.1f Hz over %.1f s of arrivals, expected %u Hz%s", hz,
                     (double)s->clock_ns_sum / 1e9, s->m.clock_rate,
                     s->opt.lab ? " (lab: wall-clock timestamps)" : "");
}

void rtp_stream_finish(struct rtp_stream *s, struct findings *f)
{
    if (s->finished)
        return;
    s->finished = true;
    if (s->frame_buf && rtpjpeg_depacketize_flush(&s->dp) == RTPJPEG_INCOMPLETE)
        report_incomplete(s, &s->dp.incomplete, s->last_frame_no, true, f);
    quiet_close(s);
    if (s->rec)
        series_record_finish(s->rec);
    if (!s->m.started)
        return;
    clock_check(s, f);
    advance_check(s, f);
    if (s->opt.lab && s->marker_zero > 0)
        findings_add(f, CHK_RTP_MARKER, s->first_frame_no, s->last_frame_no, s->where,
                     "marker bit clear on %llu of %llu packets, each a whole frame (RFC 2435: set on "
                     "a frame's last packet)",
                     (unsigned long long)s->marker_zero, (unsigned long long)s->m.packets);

    struct interval_hist *iv = &s->iv;
    struct rtp_stream_frames *fr = &s->m.frames;
    if (iv->exact && !iv->fine)
        qsort(iv->exact, iv->n_exact, sizeof(double), cmp_double);
    fr->interval_ms.count = iv->n;
    if (iv->n > 0) {
        fr->interval_ms.p50 = iv_percentile(iv, 50);
        fr->interval_ms.p95 = iv_percentile(iv, 95);
        fr->interval_ms.p99 = iv_percentile(iv, 99);
        fr->interval_ms.max = iv->max;
        fr->fps = iv->sum > 0 ? (double)iv->n * 1000.0 / iv->sum : 0;
    }
    if (s->opt.nominal_fps > 0) {
        fr->have_nominal = true;
        fr->nominal_interval_ms = 1000.0 / s->opt.nominal_fps;
        fr->stalls = s->stalls_online;
    } else if (iv->n > 0) {
        fr->have_nominal = true;
        fr->nominal_estimated = true;
        fr->nominal_interval_ms = fr->interval_ms.p50;
        fr->stalls = iv_count_above(iv, 3.0 * fr->nominal_interval_ms);
    }
}
