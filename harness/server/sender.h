/* The RTP sending side of a session: the state one played track needs
 * (struct rtp_out), the code that turns a frame into RTP packets, and the
 * sender threads that pace UDP sessions.
 *
 * A frame leaves in one system call per session: the packets of an RFC 2435
 * frame all have the same size but the last, so one sendmsg with UDP GSO
 * (UDP_SEGMENT) carries the whole frame and the kernel cuts it; where GSO is
 * refused, the frame goes as one sendmmsg. Payloads were cut once at load
 * (media.h); a session only writes 12-byte RTP headers and points iovecs at
 * the shared payloads.
 *
 * Threads: the RTSP thread owns sessions and their state machine; each
 * rtp_out is paced by one sender thread (fixed at creation). The two share
 * the fields under rtp_out.lock. Pausing is a flag: the sender drops a
 * session from its timer heap the next time it comes due and finds it not
 * playing. An rtp_out is reference-counted, so neither side frees it under
 * the other. */
#ifndef RTSP_HARNESS_SENDER_H
#define RTSP_HARNESS_SENDER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "loop.h"
#include "media.h"

#define RTP_JPEG_PT 26            /* RFC 3551 static payload type for JPEG */
#define RTP_VIDEO_CLOCK_HZ 90000  /* RTP/JPEG clock */
#define RTP_HEADER_LEN 12         /* fixed header, no CSRC, no extension */
#define RTCP_SR_INTERVAL_NS 5000000000ull /* a sender report every 5 s */
#define RTP_CATCH_UP_LIMIT_NS 1000000000ull /* further behind than this, the schedule restarts from now */
#define LAB_MAX_DATAGRAM 65507    /* largest UDP payload over IPv4 */

/* One played track of one session. */
struct rtp_out {
    pthread_mutex_t lock;             /* guards the fields marked (L) */
    atomic_int refs;                  /* owners: the session, and the sender while the timer is armed */
    /* set at SETUP, fixed afterwards */
    const struct media_stream *stream;/* what is played */
    bool lab;                         /* lab dialect: one whole JPEG per packet, seq = frame number */
    bool loop;                        /* start again after the last frame */
    bool interleaved;                 /* TCP interleaved: the RTSP thread sends, not a sender */
    int rtp_fd;                       /* UDP socket bound to server_port, connected to client_port; -1 over TCP */
    int rtcp_fd;                      /* UDP socket bound to server_port+1, connected to the client's RTCP port */
    uint32_t ssrc;                    /* random, per session */
    uint32_t ts_base;                 /* random RTP timestamp of frame 0 */
    unsigned owner;                   /* index of the sender thread that paces it */
    char cname[64];                   /* SDES CNAME */
    /* shared with the sender (L) */
    bool playing;                     /* frames are due */
    bool ended;                       /* the last frame went (no --loop); playing is false */
    uint64_t frame;                   /* next frame to send, counting loops (frame % nframes is the file's frame) */
    uint64_t play_frame;              /* frame at which the current play span started */
    uint64_t play_start_ns;           /* CLOCK_MONOTONIC time play_frame is due */
    uint16_t seq;                     /* next RTP sequence number (RFC dialect) */
    uint32_t packets;                 /* RTP packets sent, for RTCP SR */
    uint32_t octets;                  /* RTP payload octets sent, for RTCP SR */
    uint64_t next_sr_ns;              /* when the next sender report is due */
    uint64_t send_errors;             /* sends the kernel refused (client port closed, buffer full) */
    uint64_t frames_skipped;          /* frames not sent: too large for one lab datagram, or behind schedule */
    /* owned by the pacing thread */
    struct loop_timer timer;          /* due time of the next frame */
};

/* New rtp_out with one reference, sockets -1, lock initialised. */
struct rtp_out *rtp_out_new(void);
void rtp_out_ref(struct rtp_out *o);
/* Drop a reference; the last one closes the sockets and frees. */
void rtp_out_unref(struct rtp_out *o);

/* CLOCK_MONOTONIC time at which frame is due in the current play span. (L) */
uint64_t rtp_out_due_ns(const struct rtp_out *o, uint64_t frame);
/* RTP timestamp of frame. */
uint32_t rtp_out_timestamp(const struct rtp_out *o, uint64_t frame);
/* RTP sequence number the next packet will carry. (L) */
uint16_t rtp_out_next_seq(const struct rtp_out *o);

/* Before sending frame o->frame at now: false when a non-looping stream
 * has played its last frame (the caller sends the BYE, then rtp_out_end);
 * otherwise true, with the schedule restarted from now when it is further
 * behind than a burst can make up (RTP_CATCH_UP_LIMIT_NS). (L) */
bool rtp_out_frame_due(struct rtp_out *o, uint64_t now);
/* The stream played to its end: not playing, ended. (L) */
void rtp_out_end(struct rtp_out *o);

/* Write the RTP headers for the frame o->frame into hdrs (one per packet:
 * f->npackets in the RFC dialect, 1 in the lab dialect) and advance seq and
 * the counters; o->frame is not advanced. (L) Returns the packet count. */
uint32_t rtp_out_headers(struct rtp_out *o, const struct media_frame *f,
                         uint8_t (*hdrs)[RTP_HEADER_LEN]);

/* RTCP compound for o into buf: SR (the NTP/RTP pair for now) + SDES
 * CNAME, plus BYE when bye. (L) Returns its length, or 0 when cap is too
 * small. */
size_t rtp_out_rtcp(const struct rtp_out *o, bool bye, uint8_t *buf, size_t cap);

struct sender_pool;

/* Start n sender threads (n >= 1). max_packets bounds the packets of one
 * frame. Returns NULL with a message in err. */
struct sender_pool *sender_pool_start(unsigned n, uint32_t max_packets, char *err, size_t err_cap);
/* Stop and join the threads; rtp_outs they still hold are released. */
void sender_pool_stop(struct sender_pool *p);
/* Number of threads. */
unsigned sender_pool_size(const struct sender_pool *p);
/* Hand o (playing, with its schedule set) to its sender thread. */
void sender_submit(struct sender_pool *p, struct rtp_out *o);
/* Send every packet as its own datagram (sendmmsg), never UDP GSO: a
 * capture on loopback then shows the packets instead of GSO super-packets. */
void sender_disable_gso(void);
/* true when UDP GSO is in use (false once the kernel refused it or it was disabled). */
bool sender_gso_enabled(void);

#endif
