/* Live capture with libpcap: one thread per interface writes every frame
 * to a pcap file (nanosecond timestamps, immediate mode, full snap length)
 * from inside a given network namespace. Both captures of a lab stamp
 * frames with the same host clock (CLOCK_REALTIME), which is what lets the
 * run measure one-way delay by matching packets across them. */
#ifndef RTSP_HARNESS_CAPTURE_H
#define RTSP_HARNESS_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

struct capture;

/* What a capture saw; final after capture_stop. */
struct capture_stats {
    uint64_t frames;         /* frames written to the file */
    uint64_t bytes;          /* their captured bytes */
    uint64_t cut;            /* of those, written cut to CAPTURE_CUT_SNAP (over the budget) */
    uint64_t unwritten;      /* frames seen and not written at all (over the budget's ceiling) */
    uint64_t budget_frame;   /* the first frame over the budget (1-based), 0 none */
    uint64_t kernel_dropped; /* ps_drop: dropped because the buffer was full */
    uint64_t if_dropped;     /* ps_ifdrop: dropped by the interface */
};

/* A system under test that floods must not fill the disk or the
 * analyzer's memory. Once a capture has written `budget` bytes, every
 * later frame is written cut to CAPTURE_CUT_SNAP bytes (the headers up to
 * RTP's and the JPEG header: sequence, timestamps and sizes stay
 * measurable, the frame's content does not; pcap keeps each frame's wire
 * length); once the cut frames have added a quarter of the budget more,
 * frames are only counted. The frames in the file add up to at most
 * 1.25 x budget (plus the pcap record headers). */
#define CAPTURE_CUT_SNAP 128
#define CAPTURE_DEFAULT_BUDGET (256ull << 20)

/* Start capturing on ifname inside the namespace ns_fd (-1: the calling
 * thread's own) into path. `filter` is a BPF expression or NULL; `budget`
 * as above, in bytes, 0 for none. Returns once the capture is active
 * (frames sent after it returns are seen), 0 or -1 with err naming the
 * interface and the libpcap error. */
int capture_start(int ns_fd, const char *ifname, const char *filter, const char *path, uint64_t budget,
                  struct capture **out, char *err, size_t cap);

/* Stop after draining what the kernel still holds, close the file, fill
 * stats (may be NULL), free. */
void capture_stop(struct capture *c, struct capture_stats *stats);

#endif
