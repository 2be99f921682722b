/* The reference server's RTSP side: one event loop that accepts
 * connections, parses requests (RFC 2326 or the lab dialect, decided per
 * connection), runs each session's state machine, reads RTCP, paces TCP
 * interleaved sessions and reclaims idle sessions and connections. UDP
 * sessions are paced by the sender threads (sender.h). See docs/serve.md
 * for the behaviour on the wire. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <malloc.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "loop.h"
#include "media.h"
#include "outbuf.h"
#include "rtcp.h"
#include "rtpjpeg.h"
#include "rtsp.h"
#include "rtsp_hdr.h"
#include "sdp.h"
#include "sender.h"

#define MAX_HEADERS 64                     /* headers per request */
#define REPLY_MAX 8192                     /* one reply, SDP included */
#define OUT_LIMIT_BYTES (4u << 20)         /* unread output before a connection is dropped */
#define INTERLEAVED_BACKLOG_BYTES (1u << 20) /* unread output above which interleaved frames are skipped */
#define LAB_IDLE_PARSE_NS 20000000ull      /* a lab request without a final newline is complete after 20 ms of quiet */
#define LINGER_NS 2000000000ull            /* after a fatal reply, input is drained this long before closing */
#define REQUEST_TIMEOUT_NS 10000000000ull  /* a request must be complete within 10 s of its first byte */
#define SWEEP_NS 500000000ull              /* timeout sweep period */
#define HARD_CONN_MARGIN 64                /* connections beyond max that still get a 503 */
#define READ_BUDGET_BYTES (64u << 10)      /* input taken from one connection per wakeup */
#define READ_PAUSE_BYTES (1u << 20)        /* unsent output above which a connection's input waits */
#define TRIM_AFTER_CONNS 64                /* connections gone since the peak before the heap is trimmed */
#define SERVER_NAME "rtsp-harness/" RTSP_HARNESS_SERVER_VERSION
#ifndef RTSP_HARNESS_SERVER_VERSION
#define RTSP_HARNESS_SERVER_VERSION "0.1.0"
#endif

static const char PUBLIC_METHODS[] =
    "OPTIONS, DESCRIBE, SETUP, TEARDOWN, PLAY, PAUSE, GET_PARAMETER, SET_PARAMETER";

enum conn_dialect { DIALECT_UNKNOWN, DIALECT_RFC, DIALECT_LAB };

struct server;

/* One RTSP connection. */
struct conn {
    struct loop_io io;            /* the socket */
    struct server *srv;           /* owner */
    struct sockaddr_in peer;      /* client address */
    char peer_text[32];           /* "a.b.c.d:port" for logs */
    char local_host[INET_ADDRSTRLEN]; /* the address the client reached us at (URLs, SDP origin) */
    char *in;                     /* received, not yet parsed */
    size_t in_len;                /* bytes in in */
    size_t in_cap;                /* max_request_bytes */
    uint64_t request_start_ns;    /* when the first byte of the pending request came; 0 when none */
    struct outbuf out;            /* to send */
    enum conn_dialect dialect;    /* what it speaks */
    uint64_t last_rx_ns;          /* last byte received */
    struct loop_timer idle_parse; /* lab: parse what came once the client is quiet */
    struct loop_timer linger;     /* closing: drain input until this fires */
    bool reject;                  /* over the connection limit: answer 503 and close */
    bool closing;                 /* a fatal reply was queued: send it, drain, close */
    bool dead;                    /* closed; freed after the batch */
    unsigned next_channel;        /* next free interleaved channel pair */
    int last_code;                /* status of the last reply, for the log */
    bool has_playing;             /* a session it set up is playing (recomputed by the sweep) */
    struct conn *prev, *next;     /* live connections */
};

enum session_state { SESSION_READY, SESSION_PLAYING };

/* One RTSP session with one track. */
struct session {
    char id[24];                      /* as sent in Session: */
    const struct media_stream *stream;/* what it plays */
    enum session_state state;         /* Init is "no session" */
    bool lab;                         /* created by a lab connection */
    struct rtp_out *out;              /* sending state, shared with a sender thread */
    struct conn *conn;                /* interleaved: the connection carrying RTP; else NULL */
    struct conn *origin;              /* connection that set it up, NULL once closed */
    uint8_t channel_rtp;              /* interleaved channel of RTP */
    uint8_t channel_rtcp;             /* interleaved channel of RTCP */
    uint16_t server_port;             /* UDP: RTP port (RTCP is +1) */
    uint16_t client_port_rtp;         /* UDP: client's RTP port */
    uint16_t client_port_rtcp;        /* UDP: client's RTCP port */
    uint64_t last_seen_ns;            /* last request naming it or RTCP report */
    struct loop_io rtp_io;            /* UDP: reads on the RTP socket (clients' dummy packets) */
    struct loop_io rtcp_io;           /* UDP: receiver reports */
    struct loop_timer tcp_due;        /* interleaved: next frame */
    uint32_t rr_count;                /* receiver reports read */
    uint8_t rr_fraction_lost;         /* last report's fraction lost */
    int32_t rr_cumulative_lost;       /* last report's cumulative lost */
    uint32_t rr_jitter;               /* last report's jitter, timestamp units */
    struct server *srv;               /* owner */
    struct session *prev, *next;      /* all sessions */
};

struct server {
    const struct server_config *cfg;  /* options */
    struct media_catalog media;       /* streams */
    struct loop *loop;                /* the RTSP thread's loop */
    struct sender_pool *senders;      /* UDP pacing threads */
    struct http_view *http;           /* live view, or NULL */
    struct auth auth;                 /* credentials, when cfg->auth_on */
    struct loop_io listen_io;         /* RTSP listener */
    struct loop_io signal_io;         /* SIGINT/SIGTERM */
    struct loop_timer sweep;          /* timeouts */
    struct loop_timer accept_pause;   /* out of descriptors: accept again later */
    uint16_t port;                    /* bound RTSP port */
    char host[INET_ADDRSTRLEN];       /* host in URLs */
    struct conn *conns;               /* live connections */
    unsigned nconns;                  /* their number */
    unsigned nconns_peak;             /* most connections since the heap was last trimmed */
    struct conn *zombies;             /* closed, freed after the batch */
    struct session *sessions;         /* all sessions */
    unsigned nsessions;               /* their number */
    unsigned next_owner;              /* round robin over sender threads */
    uint16_t port_cursor;             /* next server_port to try */
    size_t max_payload;               /* RTP payload limit from the MTU */
    uint8_t *frame_buf;               /* interleaved: one frame's packets with '$' framing */
    size_t frame_buf_cap;             /* its size */
    uint8_t (*hdrs)[RTP_HEADER_LEN];  /* header scratch for interleaved frames */
};

/* ---------- small helpers ---------- */

static void random_bytes(void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            abort(); /* getrandom cannot fail on Linux >= 3.17 with a valid buffer */
        }
        p += n;
        len -= (size_t)n;
    }
}

static uint32_t random_u32(void)
{
    uint32_t v;
    random_bytes(&v, sizeof v);
    return v;
}

static uint64_t now_s(void)
{
    return loop_now_ns() / 1000000000u;
}

/* ---------- output ---------- */

static void conn_close(struct conn *c);

static void conn_flush(struct conn *c)
{
    int rc = outbuf_send(&c->out, c->io.fd);
    if (rc < 0) {
        conn_close(c);
        return;
    }
    if (rc == 1 && c->closing)
        shutdown(c->io.fd, SHUT_WR); /* reply delivered; drain input until the linger ends */
    /* Replies piling up unread: read no more requests until they drain,
     * rather than answer into the buffer until OUT_LIMIT_BYTES drops the
     * connection (a client pipelining faster than it reads). */
    bool paused = !c->closing && outbuf_pending(&c->out) > READ_PAUSE_BYTES;
    loop_mod(c->srv->loop, &c->io, (paused ? 0 : EPOLLIN) | (rc == 0 ? EPOLLOUT : 0));
}

static bool conn_write(struct conn *c, const void *data, size_t len)
{
    if (c->dead)
        return false;
    if (!outbuf_append(&c->out, data, len, OUT_LIMIT_BYTES)) {
        /* The client does not read its replies: drop it rather than buffer without end. */
        conn_close(c);
        return false;
    }
    return true;
}

/* ---------- replies ---------- */

/* A reply being written. In the lab dialect only CSeq and Session go out,
 * in that order, with bare LF and no blank line. */
struct reply {
    struct rtsp_builder b; /* the message */
    char buf[REPLY_MAX];   /* its bytes */
    bool lab;              /* lab form */
    int code;              /* status */
};

static void reply_begin(struct reply *r, struct conn *c, int code, bool has_cseq, uint32_t cseq)
{
    r->lab = c->dialect == DIALECT_LAB;
    r->code = code;
    c->last_code = code;
    rtsp_builder_init(&r->b, r->buf, sizeof r->buf,
                      r->lab ? RTSP_BUILD_LF | RTSP_BUILD_NO_FINAL_BLANK_LINE : 0);
    const char *reason = NULL;
    if (r->lab && code == 404)
        reason = "FILE_NOT_FOUND";
    else if (r->lab && code == 500)
        reason = "CONNECTION ERROR";
    rtsp_build_response(&r->b, code, reason);
    if (has_cseq)
        rtsp_build_headerf(&r->b, "CSeq", "%u", cseq);
    if (!r->lab)
        rtsp_build_header(&r->b, "Server", SERVER_NAME);
}

static void reply_header(struct reply *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reply_header(struct reply *r, const char *name, const char *fmt, ...)
{
    if (r->lab && strcmp(name, "Session") != 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    rtsp_build_vheaderf(&r->b, name, fmt, ap);
    va_end(ap);
}

static void reply_send(struct reply *r, struct conn *c, const char *body, size_t body_len)
{
    if (r->lab)
        body_len = 0;
    int len = rtsp_build_finish(&r->b, body, body_len);
    if (len < 0) {
        /* Only our own values go in; a failure is a bug, answer 500 rather than nothing. */
        struct rtsp_builder b;
        char buf[128];
        rtsp_builder_init(&b, buf, sizeof buf, 0);
        rtsp_build_response(&b, 500, NULL);
        len = rtsp_build_finish(&b, NULL, 0);
        if (len > 0)
            conn_write(c, buf, (size_t)len);
        return;
    }
    if (r->lab) {
        /* Lab clients split replies on '\n' and read fixed lines; end the last line. */
        conn_write(c, r->buf, (size_t)len);
        conn_write(c, "\n", 1);
    } else {
        conn_write(c, r->buf, (size_t)len);
    }
}

/* A reply with no headers beyond CSeq (and Session when given). */
static void reply_simple(struct conn *c, int code, bool has_cseq, uint32_t cseq, const char *session)
{
    struct reply r;
    reply_begin(&r, c, code, has_cseq, cseq);
    if (session)
        reply_header(&r, "Session", "%s", session);
    reply_send(&r, c, NULL, 0);
}

/* Answer and then close: the reply goes out, input is drained for a while
 * (so the client reads the reply instead of a reset), then the socket closes. */
static void on_linger(struct loop *l, struct loop_timer *t);

static void conn_fatal(struct conn *c, int code, bool has_cseq, uint32_t cseq)
{
    if (c->closing || c->dead)
        return;
    reply_simple(c, code, has_cseq, cseq, NULL);
    c->closing = true;
    c->in_len = 0;
    loop_timer_stop(c->srv->loop, &c->idle_parse);
    loop_timer_start(c->srv->loop, &c->linger, loop_now_ns() + LINGER_NS, on_linger);
    conn_flush(c);
}

/* ---------- sessions ---------- */

static struct session *session_find(struct server *s, struct wire_str id)
{
    for (struct session *x = s->sessions; x; x = x->next)
        if (strlen(x->id) == id.len && memcmp(x->id, id.ptr, id.len) == 0)
            return x;
    return NULL;
}

static void session_send_rtcp(struct server *s, struct session *x, bool bye);

/* Stop, say BYE, release everything. */
static void session_destroy(struct server *s, struct session *x, bool bye)
{
    struct rtp_out *o = x->out;
    if (o) {
        pthread_mutex_lock(&o->lock);
        o->playing = false;
        uint32_t packets = o->packets;
        uint64_t skipped = o->frames_skipped, errors = o->send_errors;
        pthread_mutex_unlock(&o->lock);
        if (s->cfg->verbose)
            fprintf(stderr,
                    "serve: session %s ends: %u RTP packets sent, %llu frames skipped, "
                    "%llu sends refused, %u receiver reports\n",
                    x->id, packets, (unsigned long long)skipped, (unsigned long long)errors,
                    x->rr_count);
        if (bye)
            session_send_rtcp(s, x, true);
    }
    loop_timer_stop(s->loop, &x->tcp_due);
    if (x->rtp_io.fn)
        loop_del(s->loop, &x->rtp_io);
    if (x->rtcp_io.fn)
        loop_del(s->loop, &x->rtcp_io);
    if (x->prev)
        x->prev->next = x->next;
    else
        s->sessions = x->next;
    if (x->next)
        x->next->prev = x->prev;
    s->nsessions--;
    rtp_out_unref(o); /* the sender drops its own reference when it next finds it paused */
    free(x);
}

static void session_new_id(struct server *s, bool lab, char *id, size_t cap)
{
    do {
        if (lab) {
            snprintf(id, cap, "%06u", 100000 + random_u32() % 900000);
        } else {
            uint8_t raw[8];
            random_bytes(raw, sizeof raw);
            snprintf(id, cap, "%02X%02X%02X%02X%02X%02X%02X%02X", raw[0], raw[1], raw[2], raw[3],
                     raw[4], raw[5], raw[6], raw[7]);
        }
    } while (session_find(s, (struct wire_str){id, strlen(id)}));
}

/* ---------- RTCP and RTP sockets of UDP sessions ---------- */

static void log_rr(struct server *s, struct session *x)
{
    if (s->cfg->verbose)
        fprintf(stderr,
                "serve: session %s: receiver report: fraction lost %u/256, cumulative lost %d, "
                "jitter %u (%.2f ms)\n",
                x->id, x->rr_fraction_lost, x->rr_cumulative_lost, x->rr_jitter,
                x->rr_jitter * 1000.0 / RTP_VIDEO_CLOCK_HZ);
}

/* Read an RTCP compound from a client: receiver reports keep the session alive. */
static void session_rtcp_in(struct server *s, struct session *x, const uint8_t *buf, size_t len)
{
    struct rtcp_iter it;
    struct rtcp_packet pkt;
    struct wire_error err;
    rtcp_iter_init(&it, buf, len, RTCP_REDUCED_SIZE);
    int rc;
    while ((rc = rtcp_iter_next(&it, &pkt, &err)) > 0) {
        if (pkt.packet_type != RTCP_RR && pkt.packet_type != RTCP_SR)
            continue;
        x->last_seen_ns = loop_now_ns();
        for (unsigned i = 0; i < pkt.count; i++) {
            if (x->out && pkt.blocks[i].ssrc == x->out->ssrc) {
                x->rr_count++;
                x->rr_fraction_lost = pkt.blocks[i].fraction_lost;
                x->rr_cumulative_lost = pkt.blocks[i].cumulative_lost;
                x->rr_jitter = pkt.blocks[i].jitter;
                log_rr(s, x);
            }
        }
    }
    if (rc < 0 && s->cfg->verbose)
        fprintf(stderr, "serve: session %s: RTCP from client rejected: %s at byte %zu\n", x->id,
                err.reason, err.offset);
}

static void on_rtcp_readable(struct loop *l, struct loop_io *io, uint32_t events)
{
    (void)l;
    (void)events;
    struct session *x = (struct session *)((char *)io - offsetof(struct session, rtcp_io));
    uint8_t buf[2048];
    for (int i = 0; i < 16; i++) {
        ssize_t n = recv(io->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0)
            break;
        session_rtcp_in(x->srv, x, buf, (size_t)n);
    }
}

/* ffmpeg and GStreamer send a dummy packet to the RTP port to open NATs;
 * read and drop whatever comes there. */
static void on_rtp_readable(struct loop *l, struct loop_io *io, uint32_t events)
{
    (void)l;
    (void)events;
    uint8_t buf[2048];
    for (int i = 0; i < 16; i++)
        if (recv(io->fd, buf, sizeof buf, MSG_DONTWAIT) < 0)
            break;
}

/* SR + SDES (+ BYE) to the client: on the RTCP socket, or on the RTCP
 * channel of an interleaved connection. */
static void session_send_rtcp(struct server *s, struct session *x, bool bye)
{
    (void)s;
    uint8_t buf[300];
    pthread_mutex_lock(&x->out->lock);
    size_t len = rtp_out_rtcp(x->out, bye, buf + 4, sizeof buf - 4);
    pthread_mutex_unlock(&x->out->lock);
    if (!len)
        return;
    if (x->conn) {
        buf[0] = '$';
        buf[1] = x->channel_rtcp;
        wire_put_be16(buf + 2, (uint16_t)len);
        conn_write(x->conn, buf, len + 4);
    } else if (x->out->rtcp_fd >= 0) {
        send(x->out->rtcp_fd, buf + 4, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    }
}

/* Bind an even/odd UDP port pair from the configured range and connect it
 * to the client's pair. Returns 0 or -1. */
static int open_udp_pair(struct server *s, struct session *x, const struct sockaddr_in *client)
{
    const struct server_config *cfg = s->cfg;
    unsigned span = (unsigned)(cfg->rtp_port_hi - cfg->rtp_port_lo + 1) / 2;
    for (unsigned attempt = 0; attempt < span; attempt++) {
        uint16_t port = s->port_cursor;
        s->port_cursor = (uint16_t)(s->port_cursor + 2);
        if (s->port_cursor + 1 > cfg->rtp_port_hi || s->port_cursor < cfg->rtp_port_lo)
            s->port_cursor = cfg->rtp_port_lo;
        int fds[2] = {-1, -1};
        bool ok = true;
        for (int i = 0; i < 2 && ok; i++) {
            fds[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)(port + i))};
            inet_pton(AF_INET, cfg->bind_addr, &a.sin_addr);
            struct sockaddr_in to = *client;
            to.sin_port = htons(i == 0 ? x->client_port_rtp : x->client_port_rtcp);
            ok = fds[i] >= 0 && bind(fds[i], (struct sockaddr *)&a, sizeof a) == 0 &&
                 connect(fds[i], (struct sockaddr *)&to, sizeof to) == 0;
        }
        if (ok) {
            int sndbuf = 1 << 20;
            setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
            x->out->rtp_fd = fds[0];
            x->out->rtcp_fd = fds[1];
            x->server_port = port;
            loop_add(s->loop, &x->rtp_io, fds[0], EPOLLIN, on_rtp_readable);
            loop_add(s->loop, &x->rtcp_io, fds[1], EPOLLIN, on_rtcp_readable);
            return 0;
        }
        int saved = errno;
        for (int i = 0; i < 2; i++)
            if (fds[i] >= 0)
                close(fds[i]);
        if (saved != EADDRINUSE)
            return -1;
    }
    return -1;
}

/* ---------- TCP interleaved pacing (on this thread) ---------- */

static void on_tcp_due(struct loop *l, struct loop_timer *t)
{
    struct session *x = (struct session *)((char *)t - offsetof(struct session, tcp_due));
    struct server *s = x->srv;
    struct rtp_out *o = x->out;
    struct conn *c = x->conn;
    if (!c || c->dead)
        return;
    if (!o->playing)
        return;
    uint64_t now = loop_now_ns();
    if (!rtp_out_frame_due(o, now)) {
        session_send_rtcp(s, x, true);
        rtp_out_end(o);
        if (!c->dead)
            conn_flush(c);
        return;
    }
    const struct media_frame *f = &o->stream->frames[o->frame % o->stream->nframes];
    if (outbuf_pending(&c->out) > INTERLEAVED_BACKLOG_BYTES) {
        /* The client is not reading: skip the frame rather than queue without end. */
        o->frames_skipped++;
    } else {
        uint32_t n = rtp_out_headers(o, f, s->hdrs);
        size_t pos = 0;
        for (uint32_t k = 0; k < n; k++) {
            const uint8_t *payload;
            size_t len;
            if (o->lab) {
                payload = f->jpeg;
                len = f->jpeg_len;
            } else {
                payload = f->payloads + (size_t)k * f->payload_size;
                len = k + 1 == n ? f->last_size : f->payload_size;
            }
            if (len + RTP_HEADER_LEN > 0xFFFF)
                continue; /* cannot be framed; the lab dialect never uses TCP */
            uint8_t *p = s->frame_buf + pos;
            p[0] = '$';
            p[1] = x->channel_rtp;
            wire_put_be16(p + 2, (uint16_t)(len + RTP_HEADER_LEN));
            memcpy(p + 4, s->hdrs[k], RTP_HEADER_LEN);
            memcpy(p + 4 + RTP_HEADER_LEN, payload, len);
            pos += 4 + RTP_HEADER_LEN + len;
        }
        conn_write(c, s->frame_buf, pos);
        if (c->dead)
            return;
        conn_flush(c);
        if (c->dead)
            return;
    }
    if (now >= o->next_sr_ns) {
        o->next_sr_ns = now + RTCP_SR_INTERVAL_NS;
        session_send_rtcp(s, x, false);
    }
    o->frame++;
    loop_timer_start(l, t, rtp_out_due_ns(o, o->frame), on_tcp_due);
}

/* ---------- request URIs ---------- */

/* The stream (and whether the track was named) a request URI designates.
 * Accepts rtsp://host[:port]/NAME[/track0][/], /NAME and the lab's bare NAME;
 * percent escapes are decoded. Never touches the file system. */
static const struct media_stream *resolve_uri(struct server *s, struct wire_str uri, bool *track)
{
    char path[MEDIA_NAME_MAX + 16];
    size_t plen = 0;
    const char *p = uri.ptr, *end = uri.ptr + uri.len;
    *track = false;
    static const char *schemes[] = {"rtsp://", "rtspu://", "rtsps://"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(schemes[i]);
        if ((size_t)(end - p) >= n && strncasecmp(p, schemes[i], n) == 0) {
            p += n;
            while (p < end && *p != '/')
                p++; /* host and port: any; the client reached us */
            break;
        }
    }
    while (p < end && *p == '/')
        p++;
    for (; p < end && *p != '?' && *p != '#'; p++) {
        char ch = *p;
        if (ch == '%') {
            if (end - p < 3)
                return NULL;
            char hex[3] = {p[1], p[2], 0};
            char *stop;
            long v = strtol(hex, &stop, 16);
            if (*stop || v <= 0)
                return NULL;
            ch = (char)v;
            p += 2;
        }
        if (plen + 1 >= sizeof path)
            return NULL;
        path[plen++] = ch;
    }
    while (plen > 0 && path[plen - 1] == '/')
        plen--; /* Content-Base form "NAME/" */
    const struct media_stream *m = media_find(&s->media, path, plen);
    if (m)
        return m;
    static const char suffix[] = "/track0";
    size_t n = sizeof suffix - 1;
    if (plen > n && memcmp(path + plen - n, suffix, n) == 0) {
        m = media_find(&s->media, path, plen - n);
        if (m)
            *track = true;
    }
    return m;
}

/* URLs name the address this connection reached, so Content-Base and
 * RTP-Info resolve for the client whichever interface it came through
 * (a bind to 0.0.0.0 makes s->host meaningless to it). */
static void stream_url(const struct conn *c, const struct media_stream *m, char *out, size_t cap)
{
    snprintf(out, cap, "rtsp://%s:%u/%s", c->local_host, c->srv->port, m->name);
}

/* ---------- requests ---------- */

/* What the handlers need about the request being answered. */
struct request {
    struct conn *c;           /* where it came from */
    struct rtsp_msg *msg;     /* the parsed request */
    uint32_t cseq;            /* its CSeq */
    struct session *session;  /* named by its Session header, when known */
};

static void reply_error(struct request *q, int code)
{
    reply_simple(q->c, code, true, q->cseq, q->session ? q->session->id : NULL);
}

static void reply_session_header(struct reply *r, struct server *s, struct session *x)
{
    if (r->lab)
        reply_header(r, "Session", "%s", x->id);
    else
        reply_header(r, "Session", "%s;timeout=%u", x->id, s->cfg->session_timeout_s);
}

/* Look the Session header up and count it as a keepalive. A Session that
 * names no session gets 454, except on OPTIONS, which needs none (a stale
 * id there is no error). Returns false when a reply was sent. */
static bool lookup_session(struct request *q)
{
    const struct wire_str *v = rtsp_msg_header(q->msg, "Session");
    if (!v)
        return true;
    struct rtsp_session parsed;
    struct wire_error err;
    if (rtsp_parse_session(*v, RTSP_LENIENT, &parsed, NULL, &err) >= 0)
        q->session = session_find(q->c->srv, parsed.id);
    if (!q->session) {
        if (q->msg->method_id == RTSP_METHOD_OPTIONS)
            return true;
        reply_error(q, 454);
        return false;
    }
    q->session->last_seen_ns = loop_now_ns();
    return true;
}

static void do_options(struct request *q)
{
    struct reply r;
    reply_begin(&r, q->c, 200, true, q->cseq);
    if (q->session)
        reply_session_header(&r, q->c->srv, q->session);
    reply_header(&r, "Public", "%s", PUBLIC_METHODS);
    reply_send(&r, q->c, NULL, 0);
}

/* Accept: absent, or naming application/sdp or a wildcard that covers it. */
static bool accepts_sdp(const struct rtsp_msg *msg)
{
    size_t index = 0;
    const struct wire_str *v;
    bool any = false;
    while ((v = rtsp_msg_header_next(msg, "Accept", &index))) {
        any = true;
        const char *p = v->ptr, *end = v->ptr + v->len;
        while (p < end) {
            while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
                p++;
            const char *start = p;
            while (p < end && *p != ',' && *p != ';' && *p != ' ')
                p++;
            struct wire_str type = {start, (size_t)(p - start)};
            if (wire_str_caseeq(type, "application/sdp") || wire_str_caseeq(type, "application/*") ||
                wire_str_caseeq(type, "*/*"))
                return true;
            while (p < end && *p != ',')
                p++;
        }
    }
    return !any;
}

static void do_describe(struct request *q)
{
    struct server *s = q->c->srv;
    bool track;
    const struct media_stream *m = resolve_uri(s, q->msg->uri, &track);
    if (!m) {
        reply_error(q, 404);
        return;
    }
    if (!accepts_sdp(q->msg)) {
        reply_error(q, 406);
        return;
    }
    char url[MEDIA_NAME_MAX + 64], range[64], sdp[2048];
    stream_url(q->c, m, url, sizeof url);
    if (s->cfg->loop)
        snprintf(range, sizeof range, "npt=0-");
    else
        snprintf(range, sizeof range, "npt=0-%.3f", media_duration(m));
    uint64_t origin_id = loop_now_ns() / 1000;
    int n = snprintf(sdp, sizeof sdp,
                     "v=0\r\n"
                     "o=- %llu 1 IN IP4 %s\r\n"
                     "s=%s\r\n"
                     "c=IN IP4 0.0.0.0\r\n"
                     "t=0 0\r\n"
                     "a=tool:" SERVER_NAME "\r\n"
                     "a=control:*\r\n"
                     "a=range:%s\r\n"
                     "m=video 0 RTP/AVP 26\r\n"
                     "a=rtpmap:26 JPEG/90000\r\n"
                     "a=control:track0\r\n"
                     "a=framerate:%g\r\n"
                     "a=framesize:26 %u-%u\r\n",
                     (unsigned long long)origin_id, q->c->local_host, m->name, range, m->fps,
                     m->width, m->height);
    if (n < 0 || (size_t)n >= sizeof sdp) {
        reply_error(q, 500);
        return;
    }
    struct reply r;
    reply_begin(&r, q->c, 200, true, q->cseq);
    reply_header(&r, "Content-Base", "%s/", url);
    reply_header(&r, "Content-Type", "application/sdp");
    reply_send(&r, q->c, sdp, (size_t)n);
}

/* The first Transport alternative the server can do, or NULL. */
static const struct rtsp_transport *choose_transport(const struct rtsp_transport *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!wire_str_caseeq(t[i].protocol, "RTP") || t[i].multicast)
            continue;
        if (t[i].profile.len && !wire_str_caseeq(t[i].profile, "AVP"))
            continue; /* RTP/SAVP and others */
        if (t[i].lower_kind == RTSP_LOWER_TCP)
            return &t[i];
        if (t[i].client_port.count >= 1 && t[i].client_port.first > 0)
            return &t[i];
    }
    return NULL;
}

static void do_setup(struct request *q)
{
    struct server *s = q->c->srv;
    struct conn *c = q->c;
    bool track;
    const struct media_stream *m = resolve_uri(s, q->msg->uri, &track);
    if (!m) {
        reply_error(q, 404);
        return;
    }
    const struct wire_str *tv = rtsp_msg_header(q->msg, "Transport");
    struct rtsp_transport alts[8];
    size_t nalts = 0;
    struct wire_error err;
    if (!tv || rtsp_parse_transport(*tv, RTSP_LENIENT, alts, 8, &nalts, NULL, &err) < 0) {
        reply_error(q, tv ? 461 : 400);
        return;
    }
    const struct rtsp_transport *t = choose_transport(alts, nalts);
    if (!t) {
        reply_error(q, 461);
        return;
    }
    struct session *x = q->session;
    bool created = false;
    if (x) {
        if (x->stream != m) {
            reply_error(q, 459);
            return;
        }
        if (x->state == SESSION_PLAYING) {
            reply_error(q, 455);
            return;
        }
        /* A new transport for the same track: drop the old sockets. */
        if (x->rtp_io.fn) {
            loop_del(s->loop, &x->rtp_io);
            x->rtp_io.fn = NULL;
        }
        if (x->rtcp_io.fn) {
            loop_del(s->loop, &x->rtcp_io);
            x->rtcp_io.fn = NULL;
        }
        struct rtp_out *old = x->out;
        struct rtp_out *o = rtp_out_new();
        if (!o) {
            reply_error(q, 500);
            return;
        }
        o->stream = old->stream;
        o->lab = old->lab;
        o->loop = old->loop;
        o->ssrc = old->ssrc;
        o->ts_base = old->ts_base;
        o->owner = old->owner;
        o->frame = old->frame;
        o->seq = old->seq;
        o->packets = old->packets;
        o->octets = old->octets;
        memcpy(o->cname, old->cname, sizeof o->cname);
        x->out = o;
        x->conn = NULL;
        rtp_out_unref(old);
    } else {
        if (s->nsessions >= s->cfg->max_sessions) {
            reply_error(q, 503);
            return;
        }
        x = calloc(1, sizeof *x);
        struct rtp_out *o = x ? rtp_out_new() : NULL;
        if (!o) {
            free(x);
            reply_error(q, 500);
            return;
        }
        created = true;
        x->srv = s;
        x->stream = m;
        x->lab = c->dialect == DIALECT_LAB;
        x->out = o;
        o->stream = m;
        o->lab = x->lab;
        o->loop = s->cfg->loop;
        o->ssrc = random_u32();
        o->ts_base = random_u32();
        o->seq = (uint16_t)random_u32();
        o->owner = s->next_owner++;
        snprintf(o->cname, sizeof o->cname, "rtsp-harness@%s", s->host);
        session_new_id(s, x->lab, x->id, sizeof x->id);
    }
    x->origin = c;
    struct rtp_out *o = x->out;
    char transport[160];
    if (t->lower_kind == RTSP_LOWER_TCP) {
        unsigned ch = t->interleaved.count ? t->interleaved.first : c->next_channel;
        unsigned ch2 = t->interleaved.count == 2 ? t->interleaved.second : ch + 1;
        if (ch > 255 || ch2 > 255) {
            if (created) {
                rtp_out_unref(o);
                free(x);
            }
            reply_error(q, 461);
            return;
        }
        if (ch + 2 > c->next_channel)
            c->next_channel = ch + 2;
        x->conn = c;
        x->channel_rtp = (uint8_t)ch;
        x->channel_rtcp = (uint8_t)ch2;
        o->interleaved = true;
        snprintf(transport, sizeof transport, "RTP/AVP/TCP;unicast;interleaved=%u-%u;ssrc=%08X", ch,
                 ch2, o->ssrc);
    } else {
        x->client_port_rtp = t->client_port.first;
        x->client_port_rtcp = t->client_port.count == 2 ? t->client_port.second
                                                        : (uint16_t)(t->client_port.first + 1);
        if (open_udp_pair(s, x, &c->peer) != 0) {
            if (created) {
                rtp_out_unref(o);
                free(x);
            }
            reply_error(q, 503);
            return;
        }
        snprintf(transport, sizeof transport,
                 "RTP/AVP;unicast;client_port=%u-%u;server_port=%u-%u;ssrc=%08X",
                 x->client_port_rtp, x->client_port_rtcp, x->server_port, x->server_port + 1,
                 o->ssrc);
    }
    if (created) {
        x->next = s->sessions;
        if (s->sessions)
            s->sessions->prev = x;
        s->sessions = x;
        s->nsessions++;
    }
    x->state = SESSION_READY;
    x->last_seen_ns = loop_now_ns();
    q->session = x;
    struct reply r;
    reply_begin(&r, c, 200, true, q->cseq);
    reply_session_header(&r, s, x);
    reply_header(&r, "Transport", "%s", transport);
    reply_send(&r, c, NULL, 0);
}

/* PLAY, PAUSE and TEARDOWN need a session; Init state answers 455. */
static bool need_session(struct request *q)
{
    if (q->session)
        return true;
    reply_error(q, 455);
    return false;
}

/* The request names the session's stream (aggregate or track URL), or is
 * the lab's bare file name. */
static bool uri_matches_session(struct request *q)
{
    if (q->session->lab)
        return true;
    bool track;
    const struct media_stream *m = resolve_uri(q->c->srv, q->msg->uri, &track);
    if (m == q->session->stream)
        return true;
    reply_error(q, m ? 459 : 404);
    return false;
}

static void do_play(struct request *q)
{
    struct server *s = q->c->srv;
    if (!need_session(q) || !uri_matches_session(q))
        return;
    struct session *x = q->session;
    struct rtp_out *o = x->out;
    const struct media_stream *m = x->stream;
    bool seek = false;
    uint64_t start = 0;
    const struct wire_str *rv = rtsp_msg_header(q->msg, "Range");
    if (rv) {
        struct rtsp_range range;
        struct wire_error err;
        if (rtsp_parse_range(*rv, RTSP_LENIENT, &range, NULL, &err) < 0 ||
            range.kind != RTSP_RANGE_NPT) {
            reply_error(q, 457);
            return;
        }
        if (range.start.present && !range.start.now) {
            double frames = (double)range.start.us / 1e6 * m->fps;
            start = (uint64_t)floor(frames + 1e-6);
            if (!o->loop && start >= m->nframes) {
                reply_error(q, 457);
                return;
            }
            seek = true;
        }
    }
    uint64_t now = loop_now_ns();
    pthread_mutex_lock(&o->lock);
    if (seek) {
        if (o->loop) {
            /* Keep the absolute frame counter increasing: move to the same
             * file frame in the current pass. */
            uint64_t pass = o->frame / m->nframes;
            start = pass * m->nframes + start % m->nframes;
        }
        o->frame = start;
    } else if (o->ended || (!o->loop && o->frame >= m->nframes)) {
        o->frame = 0; /* played to the end: play again from the start */
    }
    bool was_playing = o->playing;
    if (seek || !was_playing) {
        o->play_frame = o->frame;
        o->play_start_ns = now;
        o->next_sr_ns = now; /* a sender report with the first frame */
    }
    o->playing = true;
    o->ended = false;
    uint16_t seq = rtp_out_next_seq(o);
    uint32_t rtptime = rtp_out_timestamp(o, o->frame);
    double npt = (double)(o->frame % m->nframes) / m->fps;
    pthread_mutex_unlock(&o->lock);

    struct reply r;
    char url[MEDIA_NAME_MAX + 64];
    stream_url(q->c, m, url, sizeof url);
    reply_begin(&r, q->c, 200, true, q->cseq);
    reply_session_header(&r, s, x);
    if (o->loop)
        reply_header(&r, "Range", "npt=%.3f-", npt);
    else
        reply_header(&r, "Range", "npt=%.3f-%.3f", npt, media_duration(m));
    reply_header(&r, "RTP-Info", "url=%s/track0;seq=%u;rtptime=%u", url, seq, rtptime);
    reply_send(&r, q->c, NULL, 0);
    if (s->cfg->faults & SERVER_FAULT_SESSION) {
        /* Into a scratch buffer: session_new_id checks the new id against
         * every session, this one included. */
        char fresh[sizeof x->id];
        session_new_id(s, x->lab, fresh, sizeof fresh);
        memcpy(x->id, fresh, sizeof x->id);
    }

    x->state = SESSION_PLAYING;
    if (o->interleaved) {
        loop_timer_start(s->loop, &x->tcp_due, rtp_out_due_ns(o, o->frame), on_tcp_due);
    } else if (seek || !was_playing) {
        sender_submit(s->senders, o);
    }
}

static void do_pause(struct request *q)
{
    struct server *s = q->c->srv;
    if (!need_session(q) || !uri_matches_session(q))
        return;
    struct session *x = q->session;
    if (x->state != SESSION_PLAYING) {
        reply_error(q, 455);
        return;
    }
    struct rtp_out *o = x->out;
    bool keep_streaming = s->cfg->faults & SERVER_FAULT_RTP_AFTER_PAUSE;
    pthread_mutex_lock(&o->lock);
    if (!keep_streaming)
        o->playing = false;
    double npt = (double)(o->frame % x->stream->nframes) / x->stream->fps;
    pthread_mutex_unlock(&o->lock);
    if (!keep_streaming)
        loop_timer_stop(s->loop, &x->tcp_due);
    x->state = SESSION_READY;
    struct reply r;
    reply_begin(&r, q->c, 200, true, q->cseq);
    reply_session_header(&r, s, x);
    reply_header(&r, "Range", "npt=%.3f-", npt);
    reply_send(&r, q->c, NULL, 0);
}

static void do_teardown(struct request *q)
{
    struct server *s = q->c->srv;
    if (!need_session(q) || !uri_matches_session(q))
        return;
    char id[sizeof q->session->id];
    memcpy(id, q->session->id, sizeof id);
    session_destroy(s, q->session, true);
    q->session = NULL;
    reply_simple(q->c, 200, true, q->cseq, id);
}

static void do_parameter(struct request *q)
{
    if (q->msg->body.len > 0) {
        reply_error(q, 451); /* no parameters are known */
        return;
    }
    struct reply r;
    reply_begin(&r, q->c, 200, true, q->cseq);
    if (q->session)
        reply_session_header(&r, q->c->srv, q->session);
    reply_send(&r, q->c, NULL, 0);
}

static void log_request(struct conn *c, const struct rtsp_msg *msg, const struct request *q)
{
    if (!c->srv->cfg->verbose)
        return;
    fprintf(stderr, "serve: %s %.*s %.*s -> %d%s%s\n", c->peer_text, (int)msg->method.len,
            msg->method.ptr, (int)(msg->uri.len > 200 ? 200 : msg->uri.len), msg->uri.ptr,
            c->last_code, q && q->session ? " session " : "", q && q->session ? q->session->id : "");
}

static bool check_auth(struct request *q)
{
    struct server *s = q->c->srv;
    if (!s->cfg->auth_on)
        return true;
    const struct wire_str *v = rtsp_msg_header(q->msg, "Authorization");
    struct wire_str authz = v ? *v : (struct wire_str){NULL, 0};
    char method[32];
    snprintf(method, sizeof method, "%.*s", (int)(q->msg->method.len < 31 ? q->msg->method.len : 31),
             q->msg->method.ptr);
    const char *why = NULL;
    uint64_t t = now_s();
    enum auth_result res = auth_check(&s->auth, method, q->msg->uri, authz, t, &why);
    if (res == AUTH_OK)
        return true;
    char challenge[512];
    if (auth_challenge(&s->auth, t, res == AUTH_STALE, challenge, sizeof challenge) < 0)
        challenge[0] = 0;
    struct reply r;
    reply_begin(&r, q->c, 401, true, q->cseq);
    reply_header(&r, "WWW-Authenticate", "%s", challenge);
    reply_send(&r, q->c, NULL, 0);
    if (s->cfg->verbose && why)
        fprintf(stderr, "serve: %s: 401: %s\n", q->c->peer_text, why);
    return false;
}

static void handle_request(struct conn *c, struct rtsp_msg *msg)
{
    struct request q = {.c = c, .msg = msg};
    const struct wire_str *cv = rtsp_msg_header(msg, "CSeq");
    struct wire_error err;
    if (!cv || rtsp_parse_cseq(*cv, RTSP_LENIENT, &q.cseq, NULL, &err) < 0) {
        reply_simple(c, 400, false, 0, NULL); /* RFC 2326 12.17: CSeq is required */
        log_request(c, msg, NULL);
        return;
    }
    if ((c->srv->cfg->faults & SERVER_FAULT_CSEQ) && msg->method_id == RTSP_METHOD_PLAY)
        q.cseq++;
    if (c->reject) {
        conn_fatal(c, 503, true, q.cseq);
        log_request(c, msg, &q);
        return;
    }
    if (msg->version_major != 1 || msg->version_minor != 0) {
        if (msg->version_major != 0 || c->dialect != DIALECT_LAB) {
            reply_error(&q, 505);
            log_request(c, msg, &q);
            return;
        }
    }
    if (!check_auth(&q)) {
        log_request(c, msg, &q);
        return;
    }
    const struct wire_str *require = rtsp_msg_header(msg, "Require");
    if (require) {
        struct reply r;
        reply_begin(&r, c, 551, true, q.cseq);
        reply_header(&r, "Unsupported", "%.*s", (int)require->len, require->ptr);
        reply_send(&r, c, NULL, 0);
        log_request(c, msg, &q);
        return;
    }
    switch (msg->method_id) {
    case RTSP_METHOD_ANNOUNCE:
    case RTSP_METHOD_RECORD:
    case RTSP_METHOD_REDIRECT: {
        struct reply r;
        reply_begin(&r, c, 405, true, q.cseq);
        reply_header(&r, "Allow", "%s", PUBLIC_METHODS);
        reply_send(&r, c, NULL, 0);
        break;
    }
    case RTSP_METHOD_UNKNOWN: {
        struct reply r;
        reply_begin(&r, c, 501, true, q.cseq);
        reply_header(&r, "Public", "%s", PUBLIC_METHODS);
        reply_send(&r, c, NULL, 0);
        break;
    }
    default:
        if (!lookup_session(&q))
            break;
        switch (msg->method_id) {
        case RTSP_METHOD_OPTIONS:
            do_options(&q);
            break;
        case RTSP_METHOD_DESCRIBE:
            do_describe(&q);
            break;
        case RTSP_METHOD_SETUP:
            do_setup(&q);
            break;
        case RTSP_METHOD_PLAY:
            do_play(&q);
            break;
        case RTSP_METHOD_PAUSE:
            do_pause(&q);
            break;
        case RTSP_METHOD_TEARDOWN:
            do_teardown(&q);
            break;
        default: /* GET_PARAMETER, SET_PARAMETER */
            do_parameter(&q);
            break;
        }
        break;
    }
    log_request(c, msg, &q);
}

/* ---------- connections ---------- */

/* CSeq of a request that did not parse, when a line "CSeq: N" can be found. */
static bool raw_cseq(const char *buf, size_t len, uint32_t *cseq)
{
    for (size_t i = 0; i + 5 < len; i++) {
        if ((i == 0 || buf[i - 1] == '\n') && strncasecmp(buf + i, "CSeq:", 5) == 0) {
            size_t j = i + 5;
            while (j < len && (buf[j] == ' ' || buf[j] == '\t'))
                j++;
            uint64_t v = 0;
            size_t digits = 0;
            while (j < len && buf[j] >= '0' && buf[j] <= '9' && digits < 10) {
                v = v * 10 + (uint64_t)(buf[j++] - '0');
                digits++;
            }
            if (digits && v <= UINT32_MAX) {
                *cseq = (uint32_t)v;
                return true;
            }
            return false;
        }
    }
    return false;
}

static void conn_consume(struct conn *c, size_t n)
{
    if (n > c->in_len)
        n = c->in_len; /* a fatal reply already dropped the input */
    memmove(c->in, c->in + n, c->in_len - n);
    c->in_len -= n;
    c->request_start_ns = c->in_len ? loop_now_ns() : 0;
}

/* RTCP from the client on an interleaved channel. */
static void conn_interleaved_in(struct conn *c, const struct rtsp_interleaved *f)
{
    for (struct session *x = c->srv->sessions; x; x = x->next)
        if (x->conn == c && f->channel == x->channel_rtcp) {
            session_rtcp_in(c->srv, x, f->payload, f->len);
            return;
        }
}

static void on_idle_parse(struct loop *l, struct loop_timer *t);

/* Parse and answer every complete request in the input, in order. */
static void conn_process(struct conn *c, bool at_idle)
{
    struct server *s = c->srv;
    while (!c->dead && !c->closing && c->in_len > 0) {
        size_t skip = 0;
        enum rtsp_next kind = rtsp_next_kind(c->in, c->in_len, &skip);
        if (kind == RTSP_NEXT_NEED_MORE) {
            if (skip == c->in_len)
                conn_consume(c, skip);
            break;
        }
        if (kind == RTSP_NEXT_INTERLEAVED) {
            struct rtsp_interleaved f;
            struct wire_error err;
            if (skip)
                conn_consume(c, skip);
            int n = rtsp_interleaved_parse(c->in, c->in_len, &f, &err);
            if (n == WIRE_INCOMPLETE) {
                /* A frame longer than the input buffer can never complete:
                 * waiting for it would spin on the full buffer. */
                if (c->in_len >= c->in_cap)
                    conn_fatal(c, 413, false, 0);
                break;
            }
            if (n < 0) {
                conn_fatal(c, 400, false, 0);
                break;
            }
            conn_interleaved_in(c, &f);
            conn_consume(c, (size_t)n);
            continue;
        }
        bool lenient = s->cfg->dialect != SERVER_DIALECT_RFC;
        struct rtsp_parse_opts opts = {
            .mode = lenient ? RTSP_LENIENT : RTSP_STRICT,
            .max_header_bytes = c->in_cap,
            .max_body_bytes = c->in_cap,
            .at_idle = at_idle,
        };
        struct rtsp_msg msg;
        struct rtsp_header hdrs[MAX_HEADERS];
        struct wire_error err;
        int n = rtsp_parse(c->in, c->in_len, &opts, &msg, hdrs, MAX_HEADERS, &err);
        uint32_t cseq = 0;
        if (n == WIRE_INCOMPLETE) {
            if (c->in_len >= c->in_cap) {
                bool has = raw_cseq(c->in, c->in_len, &cseq);
                if (s->cfg->verbose)
                    fprintf(stderr, "serve: %s: request larger than %zu bytes: 413\n",
                            c->peer_text, c->in_cap);
                conn_fatal(c, 413, has, cseq);
            } else if (lenient && !at_idle && c->dialect != DIALECT_RFC &&
                       rtsp_request_looks_lab(c->in, c->in_len)) {
                /* Lab clients often send no final blank line, or not even a final newline. */
                loop_timer_start(s->loop, &c->idle_parse, loop_now_ns() + LAB_IDLE_PARSE_NS,
                                 on_idle_parse);
            }
            break;
        }
        if (n < 0) {
            bool has = raw_cseq(c->in, c->in_len, &cseq);
            bool too_big = err.reason && (strstr(err.reason, "max_body_bytes") ||
                                          strstr(err.reason, "max_header_bytes"));
            if (c->dialect == DIALECT_UNKNOWN)
                c->dialect = s->cfg->dialect == SERVER_DIALECT_LAB ? DIALECT_LAB : DIALECT_RFC;
            if (s->cfg->verbose)
                fprintf(stderr, "serve: %s: request does not parse: %s at byte %zu\n",
                        c->peer_text, err.reason, err.offset);
            conn_fatal(c, too_big ? 413 : 400, has, cseq);
            break;
        }
        loop_timer_stop(s->loop, &c->idle_parse);
        if (c->dialect == DIALECT_UNKNOWN) {
            bool lab = s->cfg->dialect == SERVER_DIALECT_LAB ||
                       (s->cfg->dialect == SERVER_DIALECT_AUTO &&
                        (rtsp_deviations_has(&msg.deviations, RTSP_DEV_BARE_LF) ||
                         rtsp_deviations_has(&msg.deviations, RTSP_DEV_BARE_URI) ||
                         rtsp_deviations_has(&msg.deviations, RTSP_DEV_MISSING_FINAL_BLANK_LINE)));
            c->dialect = lab ? DIALECT_LAB : DIALECT_RFC;
        }
        if (!msg.is_request) {
            conn_fatal(c, 400, false, 0); /* a response: we never ask anything */
            break;
        }
        handle_request(c, &msg);
        if (c->dead)
            return;
        if (c->closing)
            break; /* a fatal reply: the rest of the input is drained, not answered */
        conn_consume(c, (size_t)n);
    }
    if (!c->dead)
        conn_flush(c);
}

static void on_idle_parse(struct loop *l, struct loop_timer *t)
{
    (void)l;
    struct conn *c = (struct conn *)((char *)t - offsetof(struct conn, idle_parse));
    conn_process(c, true);
}

static void on_linger(struct loop *l, struct loop_timer *t)
{
    (void)l;
    struct conn *c = (struct conn *)((char *)t - offsetof(struct conn, linger));
    conn_close(c);
}

static void conn_close(struct conn *c)
{
    struct server *s = c->srv;
    if (c->dead)
        return;
    c->dead = true;
    loop_del(s->loop, &c->io);
    close(c->io.fd);
    loop_timer_stop(s->loop, &c->idle_parse);
    loop_timer_stop(s->loop, &c->linger);
    /* Interleaved sessions end with their connection; UDP sessions live on
     * until TEARDOWN or their timeout. */
    for (struct session *x = s->sessions, *next; x; x = next) {
        next = x->next;
        if (x->origin == c)
            x->origin = NULL;
        if (x->conn == c) {
            x->conn = NULL;
            session_destroy(s, x, false);
        }
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    c->next = s->zombies;
    s->zombies = c;
}

static void on_conn_io(struct loop *l, struct loop_io *io, uint32_t events)
{
    (void)l;
    struct conn *c = (struct conn *)((char *)io - offsetof(struct conn, io));
    if (events & EPOLLOUT) {
        conn_flush(c);
        if (c->dead)
            return;
    }
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    /* A client pipelining without pause would otherwise keep the loop here:
     * past the budget the others are served first (epoll is level-triggered). */
    size_t budget = READ_BUDGET_BYTES;
    for (;;) {
        if (c->closing) {
            char sink[16384];
            ssize_t n = recv(c->io.fd, sink, sizeof sink, 0);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                conn_close(c);
                return;
            }
            if (n < 0 || (size_t)n >= budget)
                return;
            budget -= (size_t)n;
            continue;
        }
        if (outbuf_pending(&c->out) > READ_PAUSE_BYTES)
            break; /* conn_flush stops EPOLLIN until the replies drain */
        if (c->in_len == c->in_cap) {
            conn_process(c, false); /* full: answers what it can, or 413 */
            if (c->dead)
                return;
            if (c->in_len == c->in_cap || c->closing)
                continue;
        }
        ssize_t n = recv(c->io.fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n > 0) {
            if (c->in_len == 0)
                c->request_start_ns = loop_now_ns();
            c->in_len += (size_t)n;
            c->last_rx_ns = loop_now_ns();
            if ((size_t)n >= budget)
                break;
            budget -= (size_t)n;
            continue;
        }
        if (n == 0) {
            conn_process(c, true); /* the peer finished: a lab request may end here */
            if (!c->dead) {
                conn_flush(c);
                conn_close(c);
            }
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            break;
        conn_close(c);
        return;
    }
    conn_process(c, false);
}

static void on_accept_resume(struct loop *l, struct loop_timer *t);

static void on_listen(struct loop *l, struct loop_io *io, uint32_t events)
{
    (void)events;
    struct server *s = (struct server *)((char *)io - offsetof(struct server, listen_io));
    for (;;) {
        struct sockaddr_in peer;
        socklen_t plen = sizeof peer;
        int fd = accept4(io->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: stop accepting for a moment instead of spinning. */
                fprintf(stderr, "serve: accept: %s; pausing accepts for 100 ms\n", strerror(errno));
                loop_del(l, io);
                loop_timer_start(l, &s->accept_pause, loop_now_ns() + 100000000u, on_accept_resume);
            }
            return;
        }
        if (s->nconns >= s->cfg->max_connections + HARD_CONN_MARGIN) {
            static const char busy[] = "RTSP/1.0 503 Service Unavailable\r\n\r\n";
            send(fd, busy, sizeof busy - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
            close(fd);
            continue;
        }
        struct conn *c = calloc(1, sizeof *c);
        char *in = c ? malloc(s->cfg->max_request_bytes) : NULL;
        if (!in) {
            free(c);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->srv = s;
        c->peer = peer;
        char addr[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &peer.sin_addr, addr, sizeof addr);
        snprintf(c->peer_text, sizeof c->peer_text, "%s:%u", addr, ntohs(peer.sin_port));
        struct sockaddr_in local;
        socklen_t llen = sizeof local;
        if (getsockname(fd, (struct sockaddr *)&local, &llen) != 0 ||
            !inet_ntop(AF_INET, &local.sin_addr, c->local_host, sizeof c->local_host))
            snprintf(c->local_host, sizeof c->local_host, "%s", s->host);
        c->in = in;
        c->in_cap = s->cfg->max_request_bytes;
        c->last_rx_ns = loop_now_ns();
        c->reject = s->nconns >= s->cfg->max_connections;
        c->dialect = s->cfg->dialect == SERVER_DIALECT_LAB   ? DIALECT_LAB
                     : s->cfg->dialect == SERVER_DIALECT_RFC ? DIALECT_RFC
                                                             : DIALECT_UNKNOWN;
        if (loop_add(l, &c->io, fd, EPOLLIN, on_conn_io) < 0) {
            free(in);
            free(c);
            close(fd);
            continue;
        }
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        if (++s->nconns > s->nconns_peak)
            s->nconns_peak = s->nconns;
    }
}

static void on_accept_resume(struct loop *l, struct loop_timer *t)
{
    struct server *s = (struct server *)((char *)t - offsetof(struct server, accept_pause));
    loop_add(l, &s->listen_io, s->listen_io.fd, EPOLLIN, on_listen);
}

/* Free connections closed during the batch (their events are gone by now). */
static void after_batch(struct loop *l, void *ctx)
{
    (void)l;
    struct server *s = ctx;
    while (s->zombies) {
        struct conn *c = s->zombies;
        s->zombies = c->next;
        free(c->in);
        outbuf_free(&c->out);
        free(c);
    }
}

/* Timeouts: sessions nobody kept alive, requests that never complete,
 * connections idle with nothing playing. */
static void on_sweep(struct loop *l, struct loop_timer *t)
{
    struct server *s = (struct server *)((char *)t - offsetof(struct server, sweep));
    uint64_t now = loop_now_ns();
    uint64_t session_timeout = (uint64_t)s->cfg->session_timeout_s * 1000000000u;
    for (struct conn *c = s->conns; c; c = c->next)
        c->has_playing = false;
    for (struct session *x = s->sessions, *next; x; x = next) {
        next = x->next;
        /* The lab protocol has no keepalive: a lab client shows it is alive
         * only by keeping its RTSP connection open, so its session lasts as
         * long as that connection. */
        if (x->lab && x->origin && !x->origin->closing)
            x->last_seen_ns = now;
        if (now - x->last_seen_ns > session_timeout) {
            if (s->cfg->verbose)
                fprintf(stderr, "serve: session %s timed out after %u s without a request or RTCP report\n",
                        x->id, s->cfg->session_timeout_s);
            session_destroy(s, x, true);
            continue;
        }
        if (x->state == SESSION_PLAYING && x->origin)
            x->origin->has_playing = true;
    }
    uint64_t idle = (uint64_t)s->cfg->idle_timeout_s * 1000000000u;
    for (struct conn *c = s->conns, *next; c; c = next) {
        next = c->next;
        if (c->closing)
            continue;
        if (c->request_start_ns && now - c->request_start_ns > REQUEST_TIMEOUT_NS) {
            uint32_t cseq = 0;
            bool has = raw_cseq(c->in, c->in_len, &cseq);
            conn_fatal(c, 408, has, cseq);
        } else if (!c->has_playing && now - c->last_rx_ns > idle) {
            if (s->cfg->verbose)
                fprintf(stderr, "serve: %s: idle for %u s, closing\n", c->peer_text,
                        s->cfg->idle_timeout_s);
            conn_close(c);
        }
    }
    if (s->nconns_peak >= s->nconns + TRIM_AFTER_CONNS) {
        /* A crowd of connections has left: each touched a page of its own
         * input buffer, and freed pages in the middle of the heap stay
         * resident until trimmed. */
        malloc_trim(0);
        s->nconns_peak = s->nconns;
    }
    loop_timer_start(l, t, now + SWEEP_NS, on_sweep);
}

static void on_signal(struct loop *l, struct loop_io *io, uint32_t events)
{
    (void)events;
    struct signalfd_siginfo si;
    if (read(io->fd, &si, sizeof si) != (ssize_t)sizeof si)
        return;
    struct server *s = (struct server *)((char *)io - offsetof(struct server, signal_io));
    if (s->cfg->verbose)
        fprintf(stderr, "serve: signal %u: shutting down\n", si.ssi_signo);
    loop_stop(l);
}

/* ---------- start and stop ---------- */

static int listen_tcp(const char *addr, uint16_t port, uint16_t *bound, char *err, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, addr, &a.sin_addr) != 1) {
        snprintf(err, cap, "--bind %s: not an IPv4 address", addr);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int one = 1;
    socklen_t alen = sizeof a;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 1024) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
        snprintf(err, cap, "%s:%u: %s", addr, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *bound = ntohs(a.sin_port);
    return fd;
}

int server_run(const struct server_config *cfg)
{
    struct server srv = {.cfg = cfg};
    struct server *s = &srv;
    char err[256];
    int status = 1, listen_fd = -1, sig_fd = -1;

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &mask, NULL); /* before any thread starts: they inherit it */

    if (cfg->auth_on) {
        struct wire_error werr;
        if (auth_init(&s->auth, cfg->auth_user_pass, cfg->auth_scheme, cfg->realm, &werr) < 0) {
            fprintf(stderr, "serve: --auth: %s\n", werr.reason);
            return 2;
        }
    }
    s->max_payload = rtpjpeg_max_payload_for_mtu(cfg->mtu);
    if (media_load(&s->media, cfg->media_dir, cfg->fps, s->max_payload, stderr) <= 0) {
        if (s->media.count == 0)
            fprintf(stderr, "serve: no stream could be loaded from %s\n", cfg->media_dir);
        goto out;
    }
    listen_fd = listen_tcp(cfg->bind_addr, cfg->port, &s->port, err, sizeof err);
    if (listen_fd < 0) {
        fprintf(stderr, "serve: RTSP listener %s\n", err);
        goto out;
    }
    snprintf(s->host, sizeof s->host, "%s",
             strcmp(cfg->bind_addr, "0.0.0.0") == 0 ? "127.0.0.1" : cfg->bind_addr);
    s->port_cursor = (uint16_t)(cfg->rtp_port_lo +
                                2 * (random_u32() % ((cfg->rtp_port_hi - cfg->rtp_port_lo + 1) / 2)));
    s->frame_buf_cap = (size_t)s->media.max_packets * (4 + RTP_HEADER_LEN + s->max_payload) +
                       s->media.max_jpeg + 64;
    s->frame_buf = malloc(s->frame_buf_cap);
    s->hdrs = calloc(s->media.max_packets + 1, sizeof *s->hdrs);
    s->loop = loop_new();
    sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (!s->frame_buf || !s->hdrs || !s->loop || sig_fd < 0 ||
        loop_add(s->loop, &s->listen_io, listen_fd, EPOLLIN, on_listen) < 0 ||
        loop_add(s->loop, &s->signal_io, sig_fd, EPOLLIN, on_signal) < 0) {
        fprintf(stderr, "serve: start-up: %s\n", strerror(errno));
        goto out;
    }
    loop_set_after_hook(s->loop, after_batch, s);
    loop_timer_start(s->loop, &s->sweep, loop_now_ns() + SWEEP_NS, on_sweep);
    uint16_t http_port = 0;
    if (cfg->http_port >= 0) {
        s->http = http_view_start(s->loop, &s->media, cfg->bind_addr, (uint16_t)cfg->http_port,
                                  cfg->max_connections, &http_port, err, sizeof err);
        if (!s->http) {
            fprintf(stderr, "serve: HTTP live view: %s\n", err);
            goto out;
        }
    }
    if (cfg->no_gso)
        sender_disable_gso();
    s->senders = sender_pool_start(cfg->threads, s->media.max_packets, err, sizeof err);
    if (!s->senders) {
        fprintf(stderr, "serve: %s\n", err);
        goto out;
    }

    for (size_t i = 0; i < s->media.count; i++) {
        const struct media_stream *m = &s->media.streams[i];
        printf("stream %s rtsp://%s:%u/%s frames=%u size=%ux%u fps=%g\n", m->name, s->host, s->port,
               m->name, m->nframes, m->width, m->height, m->fps);
    }
    if (s->http)
        printf("http http://%s:%u/\n", s->host, http_port);
    printf("ready rtsp://%s:%u/\n", s->host, s->port);
    fflush(stdout);

    if (loop_run(s->loop) < 0)
        fprintf(stderr, "serve: event loop: %s\n", strerror(errno));
    else
        status = 0;

    /* Shutdown: BYE to every session, replies still queued go out. */
    while (s->sessions)
        session_destroy(s, s->sessions, true);
    for (struct conn *c = s->conns; c; c = c->next) {
        int fl = fcntl(c->io.fd, F_GETFL);
        if (fl >= 0 && outbuf_pending(&c->out)) {
            struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
            setsockopt(c->io.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
            fcntl(c->io.fd, F_SETFL, fl & ~O_NONBLOCK);
            conn_flush(c);
        }
    }
    while (s->conns)
        conn_close(s->conns);
    after_batch(s->loop, s);
out:
    sender_pool_stop(s->senders);
    if (s->http)
        http_view_stop(s->http);
    if (listen_fd >= 0)
        close(listen_fd);
    if (sig_fd >= 0)
        close(sig_fd);
    loop_free(s->loop);
    free(s->frame_buf);
    free(s->hdrs);
    media_free(&s->media);
    return status;
}
