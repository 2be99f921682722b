/* RTP sending and the sender threads: see sender.h. */
#include "sender.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "rtcp.h"
#include "wire.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

#define GSO_MAX_SEGMENTS 64   /* kernel limit on segments in one GSO send (UDP_MAX_SEGMENTS) */
#define SENDER_SLACK_NS 200000 /* frames due within 0.2 ms go in the same wake-up */

static atomic_bool gso_disabled;

struct rtp_out *rtp_out_new(void)
{
    struct rtp_out *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    pthread_mutex_init(&o->lock, NULL);
    atomic_init(&o->refs, 1);
    o->rtp_fd = -1;
    o->rtcp_fd = -1;
    return o;
}

void rtp_out_ref(struct rtp_out *o)
{
    atomic_fetch_add(&o->refs, 1);
}

void rtp_out_unref(struct rtp_out *o)
{
    if (!o || atomic_fetch_sub(&o->refs, 1) != 1)
        return;
    if (o->rtp_fd >= 0)
        close(o->rtp_fd);
    if (o->rtcp_fd >= 0)
        close(o->rtcp_fd);
    pthread_mutex_destroy(&o->lock);
    free(o);
}

uint64_t rtp_out_due_ns(const struct rtp_out *o, uint64_t frame)
{
    double offset_s = (double)(frame - o->play_frame) / o->stream->fps;
    return o->play_start_ns + (uint64_t)llround(offset_s * 1e9);
}

uint32_t rtp_out_timestamp(const struct rtp_out *o, uint64_t frame)
{
    double ticks = (double)frame * RTP_VIDEO_CLOCK_HZ / o->stream->fps;
    return o->ts_base + (uint32_t)(uint64_t)llround(ticks);
}

uint16_t rtp_out_next_seq(const struct rtp_out *o)
{
    return o->lab ? (uint16_t)(o->frame + 1) : o->seq;
}

bool rtp_out_frame_due(struct rtp_out *o, uint64_t now)
{
    if (!o->loop && o->frame >= o->stream->nframes)
        return false;
    if (now > rtp_out_due_ns(o, o->frame) + RTP_CATCH_UP_LIMIT_NS) {
        /* Stalled for longer than a burst can make up: restart the
         * schedule from now rather than flood the client. */
        o->frames_skipped++;
        o->play_frame = o->frame;
        o->play_start_ns = now;
    }
    return true;
}

void rtp_out_end(struct rtp_out *o)
{
    o->playing = false;
    o->ended = true;
}

static void put_header(uint8_t *h, bool marker, uint16_t seq, uint32_t ts, uint32_t ssrc)
{
    h[0] = 0x80; /* V=2, P=0, X=0, CC=0 */
    h[1] = (uint8_t)((marker ? 0x80 : 0) | RTP_JPEG_PT);
    wire_put_be16(h + 2, seq);
    wire_put_be32(h + 4, ts);
    wire_put_be32(h + 8, ssrc);
}

uint32_t rtp_out_headers(struct rtp_out *o, const struct media_frame *f,
                         uint8_t (*hdrs)[RTP_HEADER_LEN])
{
    uint32_t ts = rtp_out_timestamp(o, o->frame);
    if (o->lab) {
        /* The lab numbers packets by frame, from 1; a whole frame per packet. */
        put_header(hdrs[0], true, (uint16_t)(o->frame + 1), ts, o->ssrc);
        o->packets++;
        o->octets += f->jpeg_len;
        return 1;
    }
    for (uint32_t k = 0; k < f->npackets; k++)
        put_header(hdrs[k], k + 1 == f->npackets, (uint16_t)(o->seq + k), ts, o->ssrc);
    o->seq = (uint16_t)(o->seq + f->npackets);
    o->packets += f->npackets;
    o->octets += (f->npackets - 1) * f->payload_size + f->last_size;
    return f->npackets;
}

size_t rtp_out_rtcp(const struct rtp_out *o, bool bye, uint8_t *buf, size_t cap)
{
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    uint64_t now = loop_now_ns();
    /* The RTP clock reading for now: the frame due next, moved by the time
     * from its due time to now (negative when it is not yet due). */
    uint32_t rtp_now = rtp_out_timestamp(o, o->frame);
    if (o->playing || o->ended) {
        double delta_s = ((double)now - (double)rtp_out_due_ns(o, o->frame)) / 1e9;
        rtp_now += (uint32_t)(int64_t)llround(delta_s * RTP_VIDEO_CLOCK_HZ);
    }
    struct rtcp_sender_info si = {
        .ntp_ts = ntp_from_timespec(&wall),
        .rtp_ts = rtp_now,
        .packet_count = o->packets,
        .octet_count = o->octets,
    };
    struct rtcp_builder b;
    struct wire_error err;
    rtcp_builder_init(&b, buf, cap);
    if (rtcp_add_sr(&b, o->ssrc, &si, NULL, 0, &err) < 0 ||
        rtcp_add_sdes_cname(&b, o->ssrc, (struct wire_str){o->cname, strlen(o->cname)}, &err) < 0)
        return 0;
    if (bye) {
        static const char reason[] = "teardown";
        if (rtcp_add_bye(&b, &o->ssrc, 1, (struct wire_str){reason, sizeof reason - 1}, &err) < 0)
            return 0;
    }
    return b.len;
}

void sender_disable_gso(void)
{
    atomic_store(&gso_disabled, true);
}

bool sender_gso_enabled(void)
{
    return !atomic_load(&gso_disabled);
}

/* A command from the RTSP thread. */
struct sender_cmd {
    struct rtp_out *out; /* start pacing this one */
};

/* One sender thread. */
struct sender {
    pthread_t thread;                /* the thread */
    struct loop *loop;               /* its loop: timers and the command eventfd */
    int efd;                         /* eventfd the RTSP thread writes to wake it */
    struct loop_io efd_io;           /* its handler */
    pthread_mutex_t qlock;           /* guards the queue */
    struct sender_cmd *queue;        /* pending commands */
    size_t qlen;                     /* commands in queue */
    size_t qcap;                     /* allocated */
    bool stopping;                   /* sender_pool_stop was called (under qlock) */
    uint8_t (*hdrs)[RTP_HEADER_LEN]; /* header scratch, max_packets */
    struct iovec *iov;               /* 2 per packet */
    struct mmsghdr *msgs;            /* 1 per packet (no-GSO path) */
};

struct sender_pool {
    unsigned n;               /* threads */
    struct sender *senders;   /* n of them */
};

/* The packets of frame f for o, as UDP GSO sends of at most GSO_MAX_SEGMENTS
 * equal segments each. Returns 0, or -1 with errno from the kernel and
 * *sent set to the packets that did go. */
static int send_gso(struct sender *s, struct rtp_out *o, const struct media_frame *f, uint32_t n,
                    uint32_t *sent)
{
    *sent = 0;
    size_t seg = RTP_HEADER_LEN + f->payload_size;
    size_t per_send = LAB_MAX_DATAGRAM / seg;
    if (per_send > GSO_MAX_SEGMENTS)
        per_send = GSO_MAX_SEGMENTS;
    for (uint32_t first = 0; first < n;) {
        uint32_t count = (uint32_t)(n - first < per_send ? n - first : per_send);
        for (uint32_t k = 0; k < count; k++) {
            uint32_t i = first + k;
            s->iov[2 * k] = (struct iovec){s->hdrs[i], RTP_HEADER_LEN};
            s->iov[2 * k + 1] = (struct iovec){(void *)(f->payloads + (size_t)i * f->payload_size),
                                               i + 1 == n ? f->last_size : f->payload_size};
        }
        union {
            char buf[CMSG_SPACE(sizeof(uint16_t))];
            struct cmsghdr align;
        } control;
        struct msghdr msg = {.msg_iov = s->iov, .msg_iovlen = 2 * count};
        if (count > 1) {
            memset(&control, 0, sizeof control);
            msg.msg_control = control.buf;
            msg.msg_controllen = sizeof control.buf;
            struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
            cm->cmsg_level = SOL_UDP;
            cm->cmsg_type = UDP_SEGMENT;
            cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
            uint16_t gso_size = (uint16_t)seg;
            memcpy(CMSG_DATA(cm), &gso_size, sizeof gso_size);
        }
        if (sendmsg(o->rtp_fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
            return -1;
        first += count;
        *sent = first;
    }
    return 0;
}

/* Packets first..n-1 of the frame as one sendmmsg (no GSO). */
static int send_mmsg(struct sender *s, struct rtp_out *o, const struct media_frame *f, uint32_t n,
                     uint32_t first)
{
    for (uint32_t i = first; i < n; i++) {
        s->iov[2 * i] = (struct iovec){s->hdrs[i], RTP_HEADER_LEN};
        if (o->lab)
            s->iov[2 * i + 1] = (struct iovec){(void *)f->jpeg, f->jpeg_len};
        else
            s->iov[2 * i + 1] = (struct iovec){(void *)(f->payloads + (size_t)i * f->payload_size),
                                               i + 1 == n ? f->last_size : f->payload_size};
        s->msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &s->iov[2 * i], .msg_iovlen = 2}};
    }
    for (uint32_t sent = first; sent < n;) {
        int rc = sendmmsg(o->rtp_fd, s->msgs + sent, n - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (rc <= 0)
            return -1;
        sent += (uint32_t)rc;
    }
    return 0;
}

static void send_frame(struct sender *s, struct rtp_out *o)
{
    const struct media_frame *f = &o->stream->frames[o->frame % o->stream->nframes];
    if (o->lab && (size_t)f->jpeg_len + RTP_HEADER_LEN > LAB_MAX_DATAGRAM) {
        o->frames_skipped++;
        return;
    }
    uint32_t n = rtp_out_headers(o, f, s->hdrs);
    int rc;
    if (!o->lab && n > 1 && !atomic_load(&gso_disabled)) {
        uint32_t sent;
        rc = send_gso(s, o, f, n, &sent);
        if (rc < 0 && (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT ||
                       errno == EOPNOTSUPP)) {
            /* This kernel or route does not do UDP GSO: never try again,
             * and send the rest of this frame packet by packet. */
            atomic_store(&gso_disabled, true);
            rc = send_mmsg(s, o, f, n, sent);
        }
    } else {
        rc = send_mmsg(s, o, f, n, 0);
    }
    if (rc < 0)
        o->send_errors++;
}

/* The sender thread running this code (timer callbacks only get the loop). */
static __thread struct sender *this_sender;

static void on_due(struct loop *l, struct loop_timer *t)
{
    struct rtp_out *o = (struct rtp_out *)((char *)t - offsetof(struct rtp_out, timer));
    struct sender *s = this_sender;
    pthread_mutex_lock(&o->lock);
    if (!o->playing) {
        pthread_mutex_unlock(&o->lock);
        rtp_out_unref(o); /* the timer's reference */
        return;
    }
    uint64_t now = loop_now_ns();
    if (!rtp_out_frame_due(o, now)) {
        /* End of the range: RTCP BYE tells receivers (ffmpeg ends its input on it). */
        uint8_t buf[300];
        size_t len = rtp_out_rtcp(o, true, buf, sizeof buf);
        if (len && send(o->rtcp_fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
            o->send_errors++;
        rtp_out_end(o);
        pthread_mutex_unlock(&o->lock);
        rtp_out_unref(o);
        return;
    }
    send_frame(s, o);
    if (now >= o->next_sr_ns) {
        uint8_t buf[256];
        size_t len = rtp_out_rtcp(o, false, buf, sizeof buf);
        if (len && send(o->rtcp_fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
            o->send_errors++;
        o->next_sr_ns = now + RTCP_SR_INTERVAL_NS;
    }
    o->frame++;
    uint64_t due = rtp_out_due_ns(o, o->frame);
    pthread_mutex_unlock(&o->lock);
    loop_timer_start(l, t, due, on_due);
}

static void on_command(struct loop *l, struct loop_io *io, uint32_t events)
{
    (void)events;
    struct sender *s = this_sender;
    uint64_t v;
    if (read(io->fd, &v, sizeof v) < 0 && errno != EAGAIN)
        return;
    pthread_mutex_lock(&s->qlock);
    if (s->stopping) {
        pthread_mutex_unlock(&s->qlock);
        loop_stop(l);
        return;
    }
    struct sender_cmd *cmds = s->queue;
    size_t n = s->qlen;
    s->queue = NULL;
    s->qlen = s->qcap = 0;
    pthread_mutex_unlock(&s->qlock);
    for (size_t i = 0; i < n; i++) {
        struct rtp_out *o = cmds[i].out;
        pthread_mutex_lock(&o->lock);
        uint64_t due = rtp_out_due_ns(o, o->frame);
        pthread_mutex_unlock(&o->lock);
        if (loop_timer_armed(&o->timer)) {
            loop_timer_start(l, &o->timer, due, on_due); /* still held from an earlier play */
            rtp_out_unref(o);
        } else {
            loop_timer_start(l, &o->timer, due, on_due);
        }
    }
    free(cmds);
}

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    this_sender = s;
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); /* wake on time, not 50 us late */
    loop_run(s->loop);
    return NULL;
}

struct sender_pool *sender_pool_start(unsigned n, uint32_t max_packets, char *err, size_t err_cap)
{
    struct sender_pool *p = calloc(1, sizeof *p);
    if (!p || !(p->senders = calloc(n, sizeof *p->senders))) {
        snprintf(err, err_cap, "out of memory");
        free(p);
        return NULL;
    }
    if (max_packets == 0)
        max_packets = 1;
    for (unsigned i = 0; i < n; i++) {
        struct sender *s = &p->senders[i];
        pthread_mutex_init(&s->qlock, NULL);
        s->hdrs = calloc(max_packets, sizeof *s->hdrs);
        s->iov = calloc(2 * (size_t)max_packets, sizeof *s->iov);
        s->msgs = calloc(max_packets, sizeof *s->msgs);
        s->loop = loop_new();
        s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (!s->hdrs || !s->iov || !s->msgs || !s->loop || s->efd < 0 ||
            loop_add(s->loop, &s->efd_io, s->efd, EPOLLIN, on_command) < 0) {
            snprintf(err, err_cap, "sender %u: %s", i, strerror(errno));
            p->n = i + 1;
            sender_pool_stop(p);
            return NULL;
        }
        loop_set_timer_slack(s->loop, SENDER_SLACK_NS);
        int rc = pthread_create(&s->thread, NULL, sender_main, s);
        if (rc != 0) {
            snprintf(err, err_cap, "sender thread: %s", strerror(rc));
            p->n = i + 1;
            s->thread = 0;
            sender_pool_stop(p);
            return NULL;
        }
        p->n = i + 1;
    }
    return p;
}

void sender_pool_stop(struct sender_pool *p)
{
    if (!p)
        return;
    for (unsigned i = 0; i < p->n; i++) {
        struct sender *s = &p->senders[i];
        pthread_mutex_lock(&s->qlock);
        s->stopping = true;
        pthread_mutex_unlock(&s->qlock);
        uint64_t one = 1;
        if (s->efd >= 0 && write(s->efd, &one, sizeof one) < 0)
            continue;
    }
    for (unsigned i = 0; i < p->n; i++) {
        struct sender *s = &p->senders[i];
        if (s->thread)
            pthread_join(s->thread, NULL);
        struct loop_timer *t;
        while (s->loop && (t = loop_first_timer(s->loop))) {
            loop_timer_stop(s->loop, t);
            rtp_out_unref((struct rtp_out *)((char *)t - offsetof(struct rtp_out, timer)));
        }
        for (size_t k = 0; k < s->qlen; k++)
            rtp_out_unref(s->queue[k].out);
        free(s->queue);
        free(s->hdrs);
        free(s->iov);
        free(s->msgs);
        if (s->efd >= 0)
            close(s->efd);
        loop_free(s->loop);
        pthread_mutex_destroy(&s->qlock);
    }
    free(p->senders);
    free(p);
}

unsigned sender_pool_size(const struct sender_pool *p)
{
    return p->n;
}

void sender_submit(struct sender_pool *p, struct rtp_out *o)
{
    struct sender *s = &p->senders[o->owner % p->n];
    rtp_out_ref(o); /* the timer's reference, handed to the thread */
    pthread_mutex_lock(&s->qlock);
    if (s->qlen == s->qcap) {
        size_t cap = s->qcap ? s->qcap * 2 : 16;
        struct sender_cmd *bigger = realloc(s->queue, cap * sizeof *bigger);
        if (!bigger)
            abort();
        s->queue = bigger;
        s->qcap = cap;
    }
    s->queue[s->qlen++] = (struct sender_cmd){o};
    pthread_mutex_unlock(&s->qlock);
    uint64_t one = 1;
    if (write(s->efd, &one, sizeof one) < 0) {
        /* An eventfd write only fails on counter overflow; the thread is awake anyway. */
    }
}
