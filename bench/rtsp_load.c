/* rtsp-load: the load client of bench/server_scale. Opens N RTSP sessions
 * of one RTP/JPEG stream over UDP, each on its own TCP connection and its own
 * UDP socket pair, receives every session's packets with epoll and recvmmsg
 * on a few threads, and says for each frame whether it came complete and how
 * late it was against its schedule, using kernel receive timestamps
 * (SO_TIMESTAMPNS) so that the client's own scheduling does not count.
 *
 * Phases: setup (sessions opened at a bounded rate, a bounded number in
 * flight), warm-up, measuring window, TEARDOWN. Only frames whose last
 * packet arrives inside the window are judged.
 *
 * Schedule of a session: frame k (from its RTP timestamp, k = (ts - ts0) /
 * (90000 / fps) rounded) is due at offset + k / fps, offset being the
 * smallest arrival_k - k / fps among the session's complete frames in the
 * window. Lateness is thus relative to the session's best frame: a constant
 * per-session delay (the server serving sessions one after the other) does
 * not count, jitter and drift do.
 *
 * All RTSP work runs on the main thread as non-blocking state machines with
 * a deadline on every exchange; the receiver threads touch only UDP sockets
 * and their own sessions' counters.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "wire.h"
#include "rtp.h"
#include "rtpjpeg.h"
#include "rtsp.h"
#include "rtsp_hdr.h"
#include "sdp.h"

#ifndef UDP_GRO
#define UDP_GRO 104 /* linux/udp.h; older libc headers lack it */
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

#define RECV_BATCH 64              /* datagrams per recvmmsg */
#define RTP_DGRAM_MAX 2048         /* one datagram without GRO (MTU-sized packets) */
#define GRO_DGRAM_MAX 65536        /* one GRO super-packet */
#define RTSP_IN_CAP 16384          /* largest RTSP reply we accept */
#define RTSP_OUT_CAP 2048          /* largest request we send */
#define URL_CAP 1024               /* URLs (request, Content-Base, control) */
#define MAX_HEADERS 64             /* headers per reply */
#define MAX_PRINTED_ERRORS 10      /* per-session error lines on stderr */
#define RTP_CLOCK_HZ 90000.0       /* RFC 2435: 90 kHz */

/* ---------------------------------------------------------------- options */

struct options {
    const char *url;            /* rtsp://host[:port]/path */
    unsigned sessions;          /* N */
    double seconds;             /* measuring window */
    double warmup_s;            /* between the last PLAY and the window */
    double fps;                 /* frame rate the schedule assumes */
    unsigned threads;           /* receiver threads */
    bool json;                  /* one JSON object on stdout */
    double setup_rate;          /* sessions started per second */
    unsigned setup_parallel;    /* sessions in setup at once */
    double rtsp_timeout_s;      /* deadline of every RTSP exchange */
    double late_ms;             /* on time: lateness <= this */
    int rcvbuf_bytes;           /* SO_RCVBUF of each RTP socket */
    bool gro;                   /* UDP_GRO on the RTP sockets (see README: off by default) */
    bool send_options;          /* OPTIONS before DESCRIBE */
    unsigned client_port_base;  /* first even UDP port tried */
    const char *client_addr;    /* address the UDP sockets bind to */
    long server_pid;            /* sample this process's CPU over the window; 0 none */
    double keepalive_s;         /* GET_PARAMETER when a session's last request is this old */
    const char *dump_path;      /* per-frame CSV of the window; NULL none */
    double poll_ms;             /* receivers sleep this long between polls; 0: wake per packet */
};

/* ------------------------------------------------------------- utilities */

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Printable excerpt of bytes from a peer, for error messages. */
static void escape_excerpt(const char *in, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    size_t limit = len < 80 ? len : 80;
    for (size_t i = 0; i < limit && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '\r') {
            out[o++] = '\\';
            out[o++] = 'r';
        } else if (c == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    if (len > limit && o + 4 < cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o < cap ? o : cap - 1] = '\0';
}

/* s as a JSON string literal, quotes included. */
static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", out);
        else if (*p == '\r')
            fputs("\\r", out);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static bool parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

static bool parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
    char *end;
    errno = 0;
    if (*s == '-' || *s == '+')
        return false;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* ------------------------------------------------------------- sessions */

enum sess_state {
    S_WAITING,    /* not started yet */
    S_CONNECTING, /* TCP connect in progress */
    S_OPTIONS,    /* OPTIONS sent */
    S_DESCRIBE,   /* DESCRIBE sent */
    S_SETUP,      /* SETUP sent */
    S_PLAY,       /* PLAY sent */
    S_PLAYING,    /* streaming, no request pending */
    S_KEEPALIVE,  /* streaming, GET_PARAMETER sent */
    S_TEARDOWN,   /* TEARDOWN sent */
    S_DONE,       /* torn down, TCP closed */
    S_FAILED,     /* gave up; error[] says why */
};

static const char *state_request(enum sess_state s)
{
    switch (s) {
    case S_CONNECTING: return "connect";
    case S_OPTIONS: return "OPTIONS";
    case S_DESCRIBE: return "DESCRIBE";
    case S_SETUP: return "SETUP";
    case S_PLAY: return "PLAY";
    case S_KEEPALIVE: return "GET_PARAMETER";
    case S_TEARDOWN: return "TEARDOWN";
    default: return "none";
    }
}

/* One frame judged in the window. */
struct frame_rec {
    int64_t k;          /* frame index from the RTP timestamp */
    int64_t arrival_ns; /* kernel timestamp of its last packet (CLOCK_REALTIME) */
    bool complete;      /* every packet from offset 0 to the marker, no gap */
};

/* Receive side of a session; written only by its receiver thread. */
struct rx_session {
    int rtp_fd;                /* even port */
    int rtcp_fd;               /* odd port, drained */
    bool have_ts0;             /* ts0 is set */
    uint32_t ts0;              /* RTP timestamp of the first packet seen */
    bool cur_active;           /* a frame is in progress or just finished */
    bool cur_done;             /* its marker came */
    bool cur_have_start;       /* its fragment offset 0 came */
    bool cur_broken;           /* a sequence gap or a missing start */
    uint32_t cur_ts;           /* its RTP timestamp */
    uint16_t next_seq;         /* sequence number the next packet of the frame must carry */
    int64_t cur_last_ns;       /* arrival of its latest packet */
    bool src_started;          /* src is initialised (first packet in the window) */
    struct rtp_source src;     /* RFC 3550 A.1/A.3 loss counting over the window */
    uint64_t packets_total;    /* RTP packets over the whole run */
    uint64_t packets_window;   /* RTP packets that arrived in the window */
    uint64_t bad_packets;      /* not RTP/JPEG, truncated, no timestamp (whole run) */
    uint64_t stray_packets;    /* packets in the window of a frame already finished */
    uint64_t rtcp_packets;     /* RTCP datagrams drained */
    uint32_t socket_drops;     /* SO_RXQ_OVFL: datagrams our socket dropped (client overload) */
    struct frame_rec *frames;  /* frames finished in the window */
    size_t nframes;            /* entries used */
    size_t frames_cap;         /* entries allocated */
    bool oom;                  /* a frame record could not be stored */
};

/* Control side of a session; main thread only. */
struct session {
    unsigned index;            /* 0..N-1, names the session in messages */
    enum sess_state state;     /* what is pending */
    bool started;              /* left S_WAITING */
    bool established;          /* PLAY answered 200 */
    bool lost;                 /* failed after it was established */
    int tcp_fd;                /* RTSP connection; -1 when closed */
    uint16_t rtp_port;         /* our RTP port (RTCP is + 1) */
    uint32_t cseq;             /* last CSeq sent */
    uint32_t stale_cseq;       /* CSeq of an abandoned request whose late reply is ignored */
    int64_t deadline_ns;       /* CLOCK_MONOTONIC deadline of the pending exchange */
    int64_t last_request_ns;   /* when the last request went out */
    char session_id[128];      /* Session header value, without parameters */
    char control_url[URL_CAP]; /* SETUP target */
    char *in;                  /* reply bytes, RTSP_IN_CAP */
    size_t in_len;             /* bytes in in */
    char out[RTSP_OUT_CAP];    /* request being sent */
    size_t out_len;            /* its length */
    size_t out_off;            /* bytes already written */
    char error[400];           /* why it failed */
};

/* One receiver thread: an epoll over its sessions' UDP sockets. */
struct rx_thread {
    pthread_t tid;             /* the thread */
    int epfd;                  /* its epoll */
    unsigned id;               /* 0..T-1 */
};

/* Everything the run shares. */
struct run {
    struct options opt;
    struct sockaddr_in server;   /* RTSP server address */
    char host_port[300];         /* host[:port] of the URL, for messages */
    struct session *sess;        /* N control states */
    struct rx_session *rx;       /* N receive states */
    struct rx_thread *threads;   /* receivers */
    int ctl_epfd;                /* main thread's epoll over TCP connections */
    unsigned next_udp_port;      /* next even port to try */
    struct sockaddr_in udp_bind; /* client_addr, port 0 */
    unsigned inflight;           /* sessions between start and PLAYING/FAILED */
    unsigned established;        /* PLAY answered 200 */
    unsigned failed_setup;       /* gave up before PLAY was answered */
    unsigned lost_sessions;      /* failed after being established */
    unsigned teardown_ok;        /* TEARDOWN answered 200 */
    unsigned teardown_failed;    /* TEARDOWN not answered 200 in time */
    unsigned printed_errors;     /* per-session errors printed so far */
    unsigned total_errors;       /* per-session errors in all */
    char first_error[400];       /* the first one, for --json */
    int rcvbuf_effective;        /* SO_RCVBUF as the kernel reports it */
    bool gro_active;             /* UDP_GRO accepted by the kernel */
};

static _Atomic int64_t g_window_start_ns = INT64_MAX; /* CLOCK_REALTIME */
static _Atomic int64_t g_window_end_ns = INT64_MAX;
static atomic_bool g_rx_stop;
static double g_ticks_per_frame; /* 90000 / fps */
static long g_poll_ns;           /* receivers' pause between polls */
static size_t g_dgram_max;       /* receive buffer per datagram */

static void session_error(struct run *r, struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void session_error(struct run *r, struct session *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(s->error, sizeof s->error, "session %u: ", s->index);
    if (n > 0 && (size_t)n < sizeof s->error)
        vsnprintf(s->error + n, sizeof s->error - (size_t)n, fmt, ap);
    va_end(ap);
    r->total_errors++;
    if (!r->first_error[0])
        snprintf(r->first_error, sizeof r->first_error, "%s", s->error);
    if (r->printed_errors < MAX_PRINTED_ERRORS) {
        fprintf(stderr, "rtsp-load: %s\n", s->error);
        r->printed_errors++;
    }
}

static void close_tcp(struct run *r, struct session *s)
{
    if (s->tcp_fd >= 0) {
        epoll_ctl(r->ctl_epfd, EPOLL_CTL_DEL, s->tcp_fd, NULL);
        close(s->tcp_fd);
        s->tcp_fd = -1;
    }
    s->deadline_ns = 0;
}

/* Give up on a session. Its UDP sockets stay open until the receivers have
 * stopped, so that no receiver can read a descriptor number reused by
 * another session. */
static void session_fail(struct run *r, struct session *s)
{
    bool was_setting_up = !s->established && s->started;
    if (s->established && (s->state == S_PLAYING || s->state == S_KEEPALIVE)) {
        s->lost = true;
        r->lost_sessions++;
    }
    if (s->state == S_TEARDOWN)
        r->teardown_failed++;
    close_tcp(r, s);
    if (was_setting_up && s->state != S_FAILED) {
        r->failed_setup++;
        r->inflight--;
    }
    s->state = S_FAILED;
}

static void ctl_watch(struct run *r, struct session *s, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.u64 = s->index};
    epoll_ctl(r->ctl_epfd, EPOLL_CTL_MOD, s->tcp_fd, &ev);
}

/* Write what is left of s->out; false after an error (session failed). */
static bool flush_out(struct run *r, struct session *s)
{
    while (s->out_off < s->out_len) {
        ssize_t n = send(s->tcp_fd, s->out + s->out_off, s->out_len - s->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            s->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            ctl_watch(r, s, EPOLLIN | EPOLLOUT);
            return true;
        }
        session_error(r, s, "sending %s: %s", state_request(s->state),
                      n < 0 ? strerror(errno) : "connection closed");
        session_fail(r, s);
        return false;
    }
    ctl_watch(r, s, EPOLLIN);
    return true;
}

/* Build and send one request; the session's state must already name it. */
static bool send_request(struct run *r, struct session *s, const char *method, const char *uri,
                         const char *transport, bool with_session, bool with_range)
{
    struct rtsp_builder b;
    rtsp_builder_init(&b, s->out, sizeof s->out, 0);
    s->cseq++;
    rtsp_build_request(&b, method, uri);
    rtsp_build_headerf(&b, "CSeq", "%" PRIu32, s->cseq);
    rtsp_build_header(&b, "User-Agent", "rtsp-load (rtsp-harness bench)");
    if (strcmp(method, "DESCRIBE") == 0)
        rtsp_build_header(&b, "Accept", "application/sdp");
    if (transport)
        rtsp_build_header(&b, "Transport", transport);
    if (with_session)
        rtsp_build_header(&b, "Session", s->session_id);
    if (with_range)
        rtsp_build_header(&b, "Range", "npt=0.000-");
    int len = rtsp_build_finish(&b, NULL, 0);
    if (len < 0) {
        session_error(r, s, "cannot build %s request for %s: %s", method, uri, b.reason);
        session_fail(r, s);
        return false;
    }
    s->out_len = (size_t)len;
    s->out_off = 0;
    int64_t now = clock_ns(CLOCK_MONOTONIC);
    s->last_request_ns = now;
    s->deadline_ns = now + (int64_t)(r->opt.rtsp_timeout_s * 1e9);
    return flush_out(r, s);
}

/* Bind the session's RTP/RTCP pair: an even port and the next one. */
static bool open_udp_pair(struct run *r, struct session *s)
{
    struct rx_session *x = &r->rx[s->index];
    for (unsigned tries = 0; tries < 30000; tries++) {
        unsigned port = r->next_udp_port;
        r->next_udp_port += 2;
        if (r->next_udp_port > 65534)
            r->next_udp_port = 1024;
        int fds[2] = {-1, -1};
        bool busy = false;
        for (int i = 0; i < 2; i++) {
            fds[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fds[i] < 0) {
                session_error(r, s, "UDP socket: %s", strerror(errno));
                if (i == 1)
                    close(fds[0]);
                return false;
            }
            struct sockaddr_in a = r->udp_bind;
            a.sin_port = htons((uint16_t)(port + (unsigned)i));
            if (bind(fds[i], (struct sockaddr *)&a, sizeof a) < 0) {
                int e = errno;
                close(fds[i]);
                if (i == 1)
                    close(fds[0]);
                if (e == EADDRINUSE || e == EACCES) {
                    busy = true;
                    break;
                }
                session_error(r, s, "binding UDP %s:%u: %s", r->opt.client_addr,
                              port + (unsigned)i, strerror(e));
                return false;
            }
        }
        if (busy)
            continue;
        int one = 1;
        int buf = r->opt.rcvbuf_bytes;
        if (geteuid() != 0 ||
            setsockopt(fds[0], SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf) < 0)
            setsockopt(fds[0], SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
        int got = 0;
        socklen_t gl = sizeof got;
        if (getsockopt(fds[0], SOL_SOCKET, SO_RCVBUF, &got, &gl) == 0)
            r->rcvbuf_effective = got;
        /* datagrams the socket itself drops (a client too slow to read)
         * must not pass for the server's loss */
        setsockopt(fds[0], SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
        if (setsockopt(fds[0], SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) < 0) {
            session_error(r, s, "SO_TIMESTAMPNS: %s", strerror(errno));
            close(fds[0]);
            close(fds[1]);
            return false;
        }
        if (r->opt.gro) {
            if (setsockopt(fds[0], SOL_UDP, UDP_GRO, &one, sizeof one) == 0)
                r->gro_active = true;
        }
        x->rtp_fd = fds[0];
        x->rtcp_fd = fds[1];
        s->rtp_port = (uint16_t)port;
        struct rx_thread *t = &r->threads[s->index % r->opt.threads];
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)s->index << 1};
        struct epoll_event ev2 = {.events = EPOLLIN, .data.u64 = ((uint64_t)s->index << 1) | 1};
        if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fds[0], &ev) < 0 ||
            epoll_ctl(t->epfd, EPOLL_CTL_ADD, fds[1], &ev2) < 0) {
            session_error(r, s, "epoll_ctl on UDP sockets: %s", strerror(errno));
            return false;
        }
        return true;
    }
    session_error(r, s, "no free UDP port pair on %s", r->opt.client_addr);
    return false;
}

/* Copy a header slice into a NUL-terminated buffer; false when too long. */
static bool copy_str(struct wire_str v, char *out, size_t cap)
{
    if (v.len >= cap)
        return false;
    memcpy(out, v.ptr, v.len);
    out[v.len] = '\0';
    return true;
}

static void on_describe(struct run *r, struct session *s, const struct rtsp_msg *m)
{
    if (m->body.len == 0) {
        session_error(r, s, "DESCRIBE reply has no SDP body");
        session_fail(r, s);
        return;
    }
    char base[URL_CAP];
    const struct wire_str *cb = rtsp_msg_header(m, "Content-Base");
    if (!cb || cb->len == 0)
        cb = rtsp_msg_header(m, "Content-Location");
    if (cb && cb->len > 0) {
        if (!copy_str(*cb, base, sizeof base)) {
            session_error(r, s, "DESCRIBE reply: Content-Base longer than %d bytes", URL_CAP - 1);
            session_fail(r, s);
            return;
        }
    } else {
        snprintf(base, sizeof base, "%s", r->opt.url);
    }
    struct sdp_media media[16];
    struct sdp_attr attrs[256];
    struct sdp_session sdp;
    struct wire_error err = {0};
    sdp_session_init(&sdp, media, 16, attrs, 256, NULL, 0);
    if (sdp_parse(m->body.ptr, m->body.len, &sdp, &err) < 0) {
        char ex[400];
        escape_excerpt(m->body.ptr, m->body.len, ex, sizeof ex);
        session_error(r, s, "DESCRIBE reply: SDP does not parse at byte %zu (%s): \"%s\"",
                      err.offset, err.reason, ex);
        session_fail(r, s);
        return;
    }
    const struct sdp_media *video = NULL;
    for (unsigned i = 0; i < sdp.media_count && !video; i++)
        if (wire_str_eq(media[i].media, "video"))
            video = &media[i];
    if (!video) {
        session_error(r, s, "DESCRIBE reply: the SDP has no m=video section (%u m= lines)",
                      sdp.media_count);
        session_fail(r, s);
        return;
    }
    struct wire_str control;
    if (sdp_control(&sdp, video, &control)) {
        if (sdp_resolve_control(base, control, s->control_url, sizeof s->control_url, &err) <
            0) {
            char ex[200];
            escape_excerpt(control.ptr, control.len, ex, sizeof ex);
            session_error(r, s, "DESCRIBE reply: a=control:%s against base %s: %s", ex, base,
                          err.reason);
            session_fail(r, s);
            return;
        }
    } else {
        size_t bl = strlen(r->opt.url);
        snprintf(s->control_url, sizeof s->control_url, "%s%strack0", r->opt.url,
                 bl && r->opt.url[bl - 1] == '/' ? "" : "/");
    }
    if (!open_udp_pair(r, s)) {
        session_fail(r, s);
        return;
    }
    char transport[96];
    snprintf(transport, sizeof transport, "RTP/AVP;unicast;client_port=%u-%u", s->rtp_port,
             s->rtp_port + 1u);
    s->state = S_SETUP;
    send_request(r, s, "SETUP", s->control_url, transport, false, false);
}

static void on_setup(struct run *r, struct session *s, const struct rtsp_msg *m)
{
    struct wire_error err = {0};
    const struct wire_str *sv = rtsp_msg_header(m, "Session");
    if (!sv) {
        session_error(r, s, "SETUP reply has no Session header");
        session_fail(r, s);
        return;
    }
    struct rtsp_session sh;
    if (rtsp_parse_session(*sv, RTSP_LENIENT, &sh, NULL, &err) < 0 ||
        !copy_str(sh.id, s->session_id, sizeof s->session_id)) {
        char ex[200];
        escape_excerpt(sv->ptr, sv->len, ex, sizeof ex);
        session_error(r, s, "SETUP reply: bad Session header \"%s\": %s", ex,
                      err.reason ? err.reason : "too long");
        session_fail(r, s);
        return;
    }
    const struct wire_str *tv = rtsp_msg_header(m, "Transport");
    if (!tv) {
        session_error(r, s, "SETUP reply has no Transport header");
        session_fail(r, s);
        return;
    }
    struct rtsp_transport t[4];
    size_t nt = 0;
    char ex[200];
    escape_excerpt(tv->ptr, tv->len, ex, sizeof ex);
    if (rtsp_parse_transport(*tv, RTSP_LENIENT, t, 4, &nt, NULL, &err) < 0 || nt == 0) {
        session_error(r, s, "SETUP reply: Transport \"%s\" does not parse: %s", ex,
                      err.reason ? err.reason : "empty");
        session_fail(r, s);
        return;
    }
    if (t[0].lower_kind != RTSP_LOWER_UDP || t[0].multicast) {
        session_error(r, s, "SETUP reply: server chose Transport \"%s\", we asked for UDP unicast",
                      ex);
        session_fail(r, s);
        return;
    }
    if (t[0].client_port.count > 0 && t[0].client_port.first != s->rtp_port) {
        session_error(r, s, "SETUP reply: Transport \"%s\" names client_port %u, we asked %u-%u", ex,
                      t[0].client_port.first, s->rtp_port, s->rtp_port + 1u);
        session_fail(r, s);
        return;
    }
    s->state = S_PLAY;
    send_request(r, s, "PLAY", r->opt.url, NULL, true, true);
}

/* A complete reply for the pending request of s. */
static void on_reply(struct run *r, struct session *s, const struct rtsp_msg *m)
{
    const char *req = state_request(s->state);
    if (m->is_request) {
        char ex[200];
        escape_excerpt(m->method.ptr, m->method.len, ex, sizeof ex);
        session_error(r, s, "server sent a %s request while we waited for the reply to %s", ex,
                      req);
        session_fail(r, s);
        return;
    }
    const struct wire_str *cv = rtsp_msg_header(m, "CSeq");
    uint32_t cseq = 0;
    struct wire_error err = {0};
    if (!cv || rtsp_parse_cseq(*cv, RTSP_LENIENT, &cseq, NULL, &err) < 0) {
        session_error(r, s, "%s reply (status %d) has %s CSeq", req, m->status,
                      cv ? "an unreadable" : "no");
        session_fail(r, s);
        return;
    }
    if (s->stale_cseq && cseq == s->stale_cseq) {
        s->stale_cseq = 0;
        return;
    }
    if (cseq != s->cseq) {
        session_error(r, s, "%s reply carries CSeq %" PRIu32 ", the request had %" PRIu32, req,
                      cseq, s->cseq);
        session_fail(r, s);
        return;
    }
    if (m->status != 200) {
        char reason[120];
        escape_excerpt(m->reason.ptr, m->reason.len, reason, sizeof reason);
        session_error(r, s, "%s answered %d %s", req, m->status, reason);
        session_fail(r, s);
        return;
    }
    s->deadline_ns = 0;
    switch (s->state) {
    case S_OPTIONS:
        s->state = S_DESCRIBE;
        send_request(r, s, "DESCRIBE", r->opt.url, NULL, false, false);
        break;
    case S_DESCRIBE:
        on_describe(r, s, m);
        break;
    case S_SETUP:
        on_setup(r, s, m);
        break;
    case S_PLAY:
        s->state = S_PLAYING;
        s->established = true;
        r->established++;
        r->inflight--;
        free(s->in);
        s->in = NULL;
        break;
    case S_KEEPALIVE:
        s->state = S_PLAYING;
        break;
    case S_TEARDOWN:
        s->state = S_DONE;
        r->teardown_ok++;
        close_tcp(r, s);
        break;
    default:
        break;
    }
}

/* Parse whatever complete messages s->in holds. */
static void parse_input(struct run *r, struct session *s, bool at_eof)
{
    while (s->in && s->in_len > 0 && s->tcp_fd >= 0) {
        struct rtsp_header hdrs[MAX_HEADERS];
        struct rtsp_msg m;
        struct wire_error err = {0};
        struct rtsp_parse_opts po = {.mode = RTSP_LENIENT, .max_header_bytes = RTSP_IN_CAP,
                                     .max_body_bytes = RTSP_IN_CAP, .at_idle = at_eof};
        int n = rtsp_parse(s->in, s->in_len, &po, &m, hdrs, MAX_HEADERS, &err);
        if (n == WIRE_INCOMPLETE) {
            if (s->in_len >= RTSP_IN_CAP) {
                session_error(r, s, "reply to %s exceeds %d bytes", state_request(s->state),
                              RTSP_IN_CAP);
                session_fail(r, s);
            }
            return;
        }
        if (n < 0) {
            char ex[400];
            escape_excerpt(s->in, s->in_len, ex, sizeof ex);
            session_error(r, s, "malformed reply to %s at byte %zu (%s): \"%s\"",
                          state_request(s->state), err.offset, err.reason, ex);
            session_fail(r, s);
            return;
        }
        if (s->state == S_PLAYING || s->state == S_WAITING || s->state == S_DONE) {
            char ex[400];
            escape_excerpt(s->in, (size_t)n, ex, sizeof ex);
            session_error(r, s, "unsolicited message from the server: \"%s\"", ex);
            session_fail(r, s);
            return;
        }
        on_reply(r, s, &m);
        if (!s->in)
            return;
        memmove(s->in, s->in + n, s->in_len - (size_t)n);
        s->in_len -= (size_t)n;
    }
}

static void on_tcp_event(struct run *r, struct session *s, uint32_t events)
{
    if (s->tcp_fd < 0)
        return;
    if (s->state == S_CONNECTING) {
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        getsockopt(s->tcp_fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
        if (soerr || (events & (EPOLLERR | EPOLLHUP))) {
            session_error(r, s, "connect to %s: %s", r->host_port,
                          strerror(soerr ? soerr : ECONNRESET));
            session_fail(r, s);
            return;
        }
        if (!(events & EPOLLOUT))
            return;
        if (r->opt.send_options) {
            s->state = S_OPTIONS;
            send_request(r, s, "OPTIONS", r->opt.url, NULL, false, false);
        } else {
            s->state = S_DESCRIBE;
            send_request(r, s, "DESCRIBE", r->opt.url, NULL, false, false);
        }
        return;
    }
    if ((events & EPOLLOUT) && s->out_off < s->out_len) {
        if (!flush_out(r, s))
            return;
    }
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    if (!s->in) {
        s->in = malloc(RTSP_IN_CAP);
        s->in_len = 0;
        if (!s->in) {
            session_error(r, s, "out of memory");
            session_fail(r, s);
            return;
        }
    }
    for (;;) {
        if (s->in_len >= RTSP_IN_CAP) {
            parse_input(r, s, false);
            if (s->tcp_fd < 0 || !s->in || s->in_len >= RTSP_IN_CAP)
                return;
        }
        ssize_t n = recv(s->tcp_fd, s->in + s->in_len, RTSP_IN_CAP - s->in_len, 0);
        if (n > 0) {
            s->in_len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            parse_input(r, s, false);
            return;
        }
        /* end of stream or error */
        int e = n < 0 ? errno : 0;
        parse_input(r, s, true);
        if (s->tcp_fd < 0)
            return;
        char ex[400];
        escape_excerpt(s->in ? s->in : "", s->in ? s->in_len : 0, ex, sizeof ex);
        const char *what = e ? strerror(e) : "closed by the server";
        if (s->state == S_PLAYING)
            session_error(r, s, "RTSP connection %s while playing", what);
        else
            session_error(r, s, "connection %s while we waited for the reply to %s "
                          "(%zu bytes came: \"%s\")", what, state_request(s->state),
                          s->in ? s->in_len : 0, ex);
        session_fail(r, s);
        return;
    }
}

static void start_session(struct run *r, struct session *s)
{
    s->started = true;
    r->inflight++;
    s->tcp_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->tcp_fd < 0) {
        session_error(r, s, "TCP socket: %s", strerror(errno));
        session_fail(r, s);
        return;
    }
    int one = 1;
    setsockopt(s->tcp_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.u64 = s->index};
    if (epoll_ctl(r->ctl_epfd, EPOLL_CTL_ADD, s->tcp_fd, &ev) < 0) {
        session_error(r, s, "epoll_ctl: %s", strerror(errno));
        close(s->tcp_fd);
        s->tcp_fd = -1;
        session_fail(r, s);
        return;
    }
    s->state = S_CONNECTING;
    s->deadline_ns = clock_ns(CLOCK_MONOTONIC) + (int64_t)(r->opt.rtsp_timeout_s * 1e9);
    if (connect(s->tcp_fd, (struct sockaddr *)&r->server, sizeof r->server) < 0 &&
        errno != EINPROGRESS) {
        session_error(r, s, "connect to %s: %s", r->host_port, strerror(errno));
        session_fail(r, s);
    }
}

/* Fail every session whose pending exchange is past its deadline. */
static void check_deadlines(struct run *r)
{
    int64_t now = clock_ns(CLOCK_MONOTONIC);
    for (unsigned i = 0; i < r->opt.sessions; i++) {
        struct session *s = &r->sess[i];
        if (s->tcp_fd < 0 || s->deadline_ns == 0 || now < s->deadline_ns)
            continue;
        char ex[400];
        escape_excerpt(s->in ? s->in : "", s->in ? s->in_len : 0, ex, sizeof ex);
        if (s->state == S_CONNECTING)
            session_error(r, s, "connect to %s: no answer within %.1f s", r->host_port,
                          r->opt.rtsp_timeout_s);
        else
            session_error(r, s, "no reply to %s within %.1f s (%zu bytes came: \"%s\")",
                          state_request(s->state), r->opt.rtsp_timeout_s,
                          s->in ? s->in_len : 0, ex);
        session_fail(r, s);
    }
}

/* One pass of the control loop: wait up to timeout_ms, handle events. */
static void ctl_poll(struct run *r, int timeout_ms)
{
    struct epoll_event ev[256];
    int n = epoll_wait(r->ctl_epfd, ev, 256, timeout_ms);
    for (int i = 0; i < n; i++) {
        uint64_t idx = ev[i].data.u64;
        if (idx < r->opt.sessions)
            on_tcp_event(r, &r->sess[idx], ev[i].events);
    }
}

/* ------------------------------------------------------------- receiving */

static void record_frame(struct rx_session *x, bool complete)
{
    int64_t t0 = atomic_load_explicit(&g_window_start_ns, memory_order_relaxed);
    int64_t t1 = atomic_load_explicit(&g_window_end_ns, memory_order_relaxed);
    if (x->cur_last_ns < t0 || x->cur_last_ns > t1)
        return;
    if (x->nframes == x->frames_cap) {
        size_t cap = x->frames_cap ? x->frames_cap * 2 : 256;
        struct frame_rec *f = realloc(x->frames, cap * sizeof *f);
        if (!f) {
            x->oom = true;
            return;
        }
        x->frames = f;
        x->frames_cap = cap;
    }
    int32_t dts = (int32_t)(x->cur_ts - x->ts0);
    x->frames[x->nframes++] = (struct frame_rec){
        .k = (int64_t)llround((double)dts / g_ticks_per_frame),
        .arrival_ns = x->cur_last_ns,
        .complete = complete,
    };
}

/* One RTP packet of session x, arrived at arrival_ns (CLOCK_REALTIME). */
static void on_rtp(struct rx_session *x, const uint8_t *buf, size_t len, int64_t arrival_ns)
{
    struct rtp_header h;
    struct wire_error err;
    if (rtp_parse(buf, len, &h, &err) < 0 || h.payload_len < RTPJPEG_HEADER_LEN) {
        x->bad_packets++;
        return;
    }
    x->packets_total++;
    int64_t t0 = atomic_load_explicit(&g_window_start_ns, memory_order_relaxed);
    int64_t t1 = atomic_load_explicit(&g_window_end_ns, memory_order_relaxed);
    bool in_window = arrival_ns >= t0 && arrival_ns <= t1;
    if (in_window) {
        x->packets_window++;
        if (!x->src_started) {
            rtp_source_init(&x->src, h.seq, 1);
            x->src_started = true;
        }
        rtp_source_update(&x->src, h.seq);
    }
    if (!x->have_ts0) {
        x->ts0 = h.timestamp;
        x->have_ts0 = true;
    }
    if (!x->cur_active || h.timestamp != x->cur_ts) {
        if (x->cur_active && !x->cur_done)
            record_frame(x, false);
        x->cur_active = true;
        x->cur_done = false;
        x->cur_have_start = false;
        x->cur_broken = false;
        x->cur_ts = h.timestamp;
    } else if (x->cur_done) {
        /* gst-rtsp-server repeats a timestamp for a few frames while
         * clients join its shared media; those frames are not judged */
        if (in_window)
            x->stray_packets++;
        return;
    }
    uint32_t fragment_offset = wire_get_be24(h.payload + 1);
    if (fragment_offset == 0) {
        if (x->cur_have_start)
            x->cur_broken = true;
        x->cur_have_start = true;
    } else if (!x->cur_have_start || h.seq != x->next_seq) {
        x->cur_broken = true;
    }
    x->next_seq = (uint16_t)(h.seq + 1);
    x->cur_last_ns = arrival_ns;
    if (h.marker) {
        record_frame(x, x->cur_have_start && !x->cur_broken);
        x->cur_done = true;
    }
}

/* Receive buffers of one thread. */
struct rx_buffers {
    uint8_t *data;                      /* RECV_BATCH * g_dgram_max */
    struct mmsghdr msgs[RECV_BATCH];    /* recvmmsg vector */
    struct iovec iov[RECV_BATCH];       /* one per message */
    union {
        char buf[CMSG_SPACE(sizeof(struct timespec)) + CMSG_SPACE(sizeof(int)) +
                 CMSG_SPACE(sizeof(uint32_t)) + 64];
        struct cmsghdr align;
    } ctrl[RECV_BATCH];                 /* timestamp and GRO segment size */
};

static void rx_prepare(struct rx_buffers *b)
{
    for (unsigned i = 0; i < RECV_BATCH; i++) {
        b->iov[i].iov_base = b->data + (size_t)i * g_dgram_max;
        b->iov[i].iov_len = g_dgram_max;
        memset(&b->msgs[i].msg_hdr, 0, sizeof b->msgs[i].msg_hdr);
        b->msgs[i].msg_hdr.msg_iov = &b->iov[i];
        b->msgs[i].msg_hdr.msg_iovlen = 1;
        b->msgs[i].msg_hdr.msg_control = b->ctrl[i].buf;
        b->msgs[i].msg_hdr.msg_controllen = sizeof b->ctrl[i].buf;
    }
}

static void rx_drain_rtp(struct rx_session *x, struct rx_buffers *b)
{
    for (int round = 0; round < 16; round++) {
        for (unsigned i = 0; i < RECV_BATCH; i++)
            b->msgs[i].msg_hdr.msg_controllen = sizeof b->ctrl[i].buf;
        int n = recvmmsg(x->rtp_fd, b->msgs, RECV_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return;
        for (int i = 0; i < n; i++) {
            struct msghdr *mh = &b->msgs[i].msg_hdr;
            size_t len = b->msgs[i].msg_len;
            if (mh->msg_flags & MSG_TRUNC) {
                x->bad_packets++;
                continue;
            }
            int64_t arrival = -1;
            size_t gso_size = 0;
            for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
                    struct timespec ts;
                    memcpy(&ts, CMSG_DATA(c), sizeof ts);
                    arrival = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
                } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
                    uint32_t drops;
                    memcpy(&drops, CMSG_DATA(c), sizeof drops);
                    x->socket_drops = drops;
                } else if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
                    int g;
                    memcpy(&g, CMSG_DATA(c), sizeof g);
                    if (g > 0)
                        gso_size = (size_t)g;
                }
            }
            if (arrival < 0) {
                x->bad_packets++;
                continue;
            }
            const uint8_t *p = b->iov[i].iov_base;
            if (gso_size == 0 || gso_size >= len) {
                on_rtp(x, p, len, arrival);
            } else {
                for (size_t off = 0; off < len; off += gso_size)
                    on_rtp(x, p + off, len - off < gso_size ? len - off : gso_size, arrival);
            }
        }
        if (n < RECV_BATCH)
            return;
    }
}

static void rx_drain_rtcp(struct rx_session *x, struct rx_buffers *b)
{
    for (int round = 0; round < 4; round++) {
        for (unsigned i = 0; i < RECV_BATCH; i++)
            b->msgs[i].msg_hdr.msg_controllen = 0;
        int n = recvmmsg(x->rtcp_fd, b->msgs, RECV_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            break;
        x->rtcp_packets += (uint64_t)n;
        if (n < RECV_BATCH)
            break;
    }
    for (unsigned i = 0; i < RECV_BATCH; i++)
        b->msgs[i].msg_hdr.msg_control = b->ctrl[i].buf;
}

static struct rx_session *g_rx; /* the run's receive states, for the threads */

static void *rx_main(void *arg)
{
    struct rx_thread *t = arg;
    struct rx_buffers *b = calloc(1, sizeof *b);
    if (b)
        b->data = malloc(RECV_BATCH * g_dgram_max);
    if (!b || !b->data) {
        fprintf(stderr, "rtsp-load: receiver thread %u: out of memory\n", t->id);
        exit(1);
    }
    rx_prepare(b);
    struct epoll_event ev[512];
    while (!atomic_load_explicit(&g_rx_stop, memory_order_relaxed)) {
        /* Arrival times come from the kernel, so reading late costs
         * nothing but buffer space; sleeping between polls turns thousands
         * of wake-ups a second into a few hundred larger batches and leaves
         * the CPUs to the server on a small machine. */
        if (g_poll_ns > 0) {
            struct timespec pause = {.tv_sec = 0, .tv_nsec = g_poll_ns};
            nanosleep(&pause, NULL);
        }
        int n = epoll_wait(t->epfd, ev, 512, 50);
        for (int i = 0; i < n; i++) {
            struct rx_session *x = &g_rx[ev[i].data.u64 >> 1];
            if (ev[i].data.u64 & 1)
                rx_drain_rtcp(x, b);
            else
                rx_drain_rtp(x, b);
        }
    }
    free(b->data);
    free(b);
    return NULL;
}

/* ------------------------------------------------------------ statistics */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_frame(const void *a, const void *b)
{
    const struct frame_rec *x = a, *y = b;
    if (x->k != y->k)
        return (x->k > y->k) - (x->k < y->k);
    return (x->arrival_ns > y->arrival_ns) - (x->arrival_ns < y->arrival_ns);
}

/* Figures of one run. */
struct results {
    uint64_t frames_expected;    /* what the schedules say the window holds */
    uint64_t frames_received;    /* frames with at least one packet */
    uint64_t frames_complete;    /* every packet came */
    uint64_t frames_on_time;     /* complete and lateness <= late_ms */
    uint64_t frames_late;        /* complete but later than late_ms */
    uint64_t frames_missing;     /* expected, no packet at all */
    uint64_t packets_received;   /* RTP packets in the window */
    int64_t packets_lost;        /* RFC 3550 A.3 over the window, summed */
    uint64_t bad_packets;        /* not RTP/JPEG, truncated or untimestamped */
    uint64_t stray_packets;      /* after the frame's marker */
    uint64_t rtcp_packets;       /* RTCP datagrams */
    uint64_t client_drops;       /* datagrams our own sockets dropped (whole run) */
    unsigned sessions_with_loss; /* sessions that lost at least one packet */
    unsigned sessions_below;     /* sessions below 99.9 % on time */
    double worst_session_rate;   /* lowest per-session on-time rate */
    double lateness_ms[4];       /* p50, p99, p99.9, max over complete frames */
    bool oom;                    /* frame records were dropped */
};

static double percentile(const int64_t *v, size_t n, double q)
{
    if (n == 0)
        return 0.0;
    size_t idx = (size_t)ceil(q * (double)n);
    idx = idx == 0 ? 0 : idx - 1;
    if (idx >= n)
        idx = n - 1;
    return (double)v[idx] / 1e6;
}

static bool compute_results(struct run *r, struct results *res)
{
    memset(res, 0, sizeof *res);
    const double frame_ns = 1e9 / r->opt.fps;
    const int64_t late_ns = (int64_t)(r->opt.late_ms * 1e6);
    const uint64_t nominal = (uint64_t)floor(r->opt.seconds * r->opt.fps + 1e-9);
    size_t total = 0;
    for (unsigned i = 0; i < r->opt.sessions; i++)
        total += r->rx[i].nframes;
    int64_t *lateness = malloc((total ? total : 1) * sizeof *lateness);
    if (!lateness)
        return false;
    size_t nl = 0;
    res->worst_session_rate = 1.0;
    FILE *dump = NULL;
    if (r->opt.dump_path) {
        dump = fopen(r->opt.dump_path, "w");
        if (!dump)
            fprintf(stderr, "rtsp-load: cannot write %s: %s\n", r->opt.dump_path, strerror(errno));
        else
            fprintf(dump, "session,k,arrival_ns,complete,lateness_ms\n");
    }
    for (unsigned i = 0; i < r->opt.sessions; i++) {
        struct rx_session *x = &r->rx[i];
        res->packets_received += x->packets_window;
        res->bad_packets += x->bad_packets;
        res->stray_packets += x->stray_packets;
        res->rtcp_packets += x->rtcp_packets;
        res->client_drops += x->socket_drops;
        res->oom |= x->oom;
        if (x->src_started) {
            int64_t lost = rtp_source_lost(&x->src);
            res->packets_lost += lost;
            if (lost > 0)
                res->sessions_with_loss++;
        }
        qsort(x->frames, x->nframes, sizeof *x->frames, cmp_frame);
        /* a frame index seen twice (reordered packets) counts once: the
         * first record that is complete, else the first */
        size_t w = 0;
        for (size_t j = 0; j < x->nframes; j++) {
            if (w > 0 && x->frames[w - 1].k == x->frames[j].k) {
                if (!x->frames[w - 1].complete && x->frames[j].complete)
                    x->frames[w - 1] = x->frames[j];
                continue;
            }
            x->frames[w++] = x->frames[j];
        }
        x->nframes = w;
        uint64_t expected = nominal;
        if (w > 0) {
            uint64_t span = (uint64_t)(x->frames[w - 1].k - x->frames[0].k + 1);
            /* a session whose frames stop early, or never come, still owes
             * the window's frames: at least nominal - 1 (edge effects) */
            uint64_t floor_expected = nominal > 0 ? nominal - 1 : 0;
            expected = span > floor_expected ? span : floor_expected;
        }
        int64_t offset = INT64_MAX;
        for (size_t j = 0; j < w; j++) {
            if (!x->frames[j].complete)
                continue;
            int64_t o = x->frames[j].arrival_ns - (int64_t)llround((double)x->frames[j].k * frame_ns);
            if (o < offset)
                offset = o;
        }
        uint64_t on_time = 0;
        for (size_t j = 0; j < w; j++) {
            res->frames_received++;
            if (dump)
                fprintf(dump, "%u,%" PRId64 ",%" PRId64 ",%d,%.3f\n", i, x->frames[j].k,
                        x->frames[j].arrival_ns, x->frames[j].complete,
                        x->frames[j].complete
                            ? (double)(x->frames[j].arrival_ns -
                                       (int64_t)llround((double)x->frames[j].k * frame_ns) - offset) / 1e6
                            : -1.0);
            if (!x->frames[j].complete)
                continue;
            res->frames_complete++;
            int64_t late = x->frames[j].arrival_ns -
                           (int64_t)llround((double)x->frames[j].k * frame_ns) - offset;
            lateness[nl++] = late;
            if (late <= late_ns)
                on_time++;
            else
                res->frames_late++;
        }
        res->frames_on_time += on_time;
        res->frames_expected += expected;
        if (expected > w)
            res->frames_missing += expected - w;
        double rate = expected ? (double)on_time / (double)expected : 0.0;
        if (rate < res->worst_session_rate)
            res->worst_session_rate = rate;
        if (rate < 0.999)
            res->sessions_below++;
    }
    if (dump)
        fclose(dump);
    qsort(lateness, nl, sizeof *lateness, cmp_i64);
    res->lateness_ms[0] = percentile(lateness, nl, 0.50);
    res->lateness_ms[1] = percentile(lateness, nl, 0.99);
    res->lateness_ms[2] = percentile(lateness, nl, 0.999);
    res->lateness_ms[3] = nl ? (double)lateness[nl - 1] / 1e6 : 0.0;
    free(lateness);
    return true;
}

/* utime + stime of a process in seconds, from /proc/PID/stat; < 0 on error. */
static double proc_cpu_s(long pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    /* after ") " come fields 3 (state) .. ; utime is 14, stime 15 */
    unsigned long utime = 0, stime = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* VmHWM of a process in KiB; -1 on error. */
static long proc_vmhwm_kib(long pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

/* Busy CPU seconds of the whole machine (all CPUs, idle and iowait
 * excluded) from /proc/stat; < 0 on error. Other processes on a shared
 * machine show up as the difference to the server's and our own. */
static double machine_busy_s(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 4)
        return -1;
    unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    return (double)busy / (double)sysconf(_SC_CLK_TCK);
}

static double rusage_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *out)
{
    fprintf(out,
        "usage: rtsp-load --url rtsp://HOST:PORT/PATH --sessions N --seconds S [options]\n"
        "\n"
        "Open N RTSP sessions of one RTP/JPEG stream over UDP, then count per session\n"
        "the frames that arrive complete and how late each is against its schedule\n"
        "(kernel receive timestamps).\n"
        "\n"
        "  --url URL            stream to open (required)\n"
        "  --sessions N         sessions, each with its own TCP connection and UDP pair\n"
        "  --seconds S          measuring window (default 10)\n"
        "  --warmup S           wait between the last PLAY and the window (default 3)\n"
        "  --fps F              frame rate of the schedule (default 20)\n"
        "  --threads T          receiver threads (default 2)\n"
        "  --json               print one JSON object instead of text\n"
        "  --late-ms MS         a frame is on time when at most this late (default 5)\n"
        "  --setup-rate R       sessions started per second (default 200)\n"
        "  --setup-parallel P   sessions in setup at once (default 32)\n"
        "  --rtsp-timeout S     deadline of every RTSP exchange (default 10)\n"
        "  --keepalive S        GET_PARAMETER when a session's last request is this old\n"
        "                       (default 25)\n"
        "  --rcvbuf BYTES       SO_RCVBUF of each RTP socket (default 2097152)\n"
        "  --gro / --no-gro     UDP_GRO on the RTP sockets (default off: a server that\n"
        "                       sends with UDP GSO then skips segmentation on loopback)\n"
        "  --options            send OPTIONS before DESCRIBE\n"
        "  --client-addr ADDR   address the UDP sockets bind to (default 127.0.0.1)\n"
        "  --client-port-base P first even UDP port tried (default 40000)\n"
        "  --server-pid PID     report that process's CPU over the window and its VmHWM\n"
        "  --poll-ms MS         receivers sleep MS between polls (default 2; 0 wakes on\n"
        "                       every packet); timestamps come from the kernel either way\n"
        "  --dump FILE          write every judged frame as CSV (session, k, arrival_ns,\n"
        "                       complete, lateness_ms) to FILE\n"
        "\n"
        "exit status: 0 every session was set up and measured, 1 some session failed\n"
        "(the figures still count it) or the run could not start, 2 usage error\n");
}

static int parse_args(int argc, char **argv, struct options *o)
{
    *o = (struct options){
        .seconds = 10, .warmup_s = 3, .fps = 20, .threads = 2, .setup_rate = 200,
        .setup_parallel = 32, .rtsp_timeout_s = 10, .late_ms = 5, .rcvbuf_bytes = 2 << 20,
        .gro = false, .client_port_base = 40000, .client_addr = "127.0.0.1",
        .keepalive_s = 25, .poll_ms = 2,
    };
    enum { O_URL = 256, O_SESSIONS, O_SECONDS, O_WARMUP, O_FPS, O_THREADS, O_JSON, O_LATE,
           O_RATE, O_PAR, O_TIMEOUT, O_KEEP, O_RCVBUF, O_GRO, O_NOGRO, O_OPTIONS, O_ADDR,
           O_PORTBASE, O_PID, O_DUMP, O_POLL, O_HELP };
    static const struct option lo[] = {
        {"url", required_argument, NULL, O_URL},
        {"sessions", required_argument, NULL, O_SESSIONS},
        {"seconds", required_argument, NULL, O_SECONDS},
        {"warmup", required_argument, NULL, O_WARMUP},
        {"fps", required_argument, NULL, O_FPS},
        {"threads", required_argument, NULL, O_THREADS},
        {"json", no_argument, NULL, O_JSON},
        {"late-ms", required_argument, NULL, O_LATE},
        {"setup-rate", required_argument, NULL, O_RATE},
        {"setup-parallel", required_argument, NULL, O_PAR},
        {"rtsp-timeout", required_argument, NULL, O_TIMEOUT},
        {"keepalive", required_argument, NULL, O_KEEP},
        {"rcvbuf", required_argument, NULL, O_RCVBUF},
        {"gro", no_argument, NULL, O_GRO},
        {"no-gro", no_argument, NULL, O_NOGRO},
        {"options", no_argument, NULL, O_OPTIONS},
        {"client-addr", required_argument, NULL, O_ADDR},
        {"client-port-base", required_argument, NULL, O_PORTBASE},
        {"server-pid", required_argument, NULL, O_PID},
        {"dump", required_argument, NULL, O_DUMP},
        {"poll-ms", required_argument, NULL, O_POLL},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    int c;
    int li = -1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", lo, &li)) != -1) {
        unsigned long u;
        bool ok = true;
        switch (c) {
        case O_URL: o->url = optarg; break;
        case O_SESSIONS: ok = parse_uint(optarg, 1, 100000, &u); o->sessions = (unsigned)u; break;
        case O_SECONDS: ok = parse_double(optarg, 0.1, 86400, &o->seconds); break;
        case O_WARMUP: ok = parse_double(optarg, 0, 3600, &o->warmup_s); break;
        case O_FPS: ok = parse_double(optarg, 0.1, 1000, &o->fps); break;
        case O_THREADS: ok = parse_uint(optarg, 1, 64, &u); o->threads = (unsigned)u; break;
        case O_JSON: o->json = true; break;
        case O_LATE: ok = parse_double(optarg, 0, 100000, &o->late_ms); break;
        case O_RATE: ok = parse_double(optarg, 0.1, 1e6, &o->setup_rate); break;
        case O_PAR: ok = parse_uint(optarg, 1, 100000, &u); o->setup_parallel = (unsigned)u; break;
        case O_TIMEOUT: ok = parse_double(optarg, 0.1, 3600, &o->rtsp_timeout_s); break;
        case O_KEEP: ok = parse_double(optarg, 1, 3600, &o->keepalive_s); break;
        case O_RCVBUF: ok = parse_uint(optarg, 4096, 1u << 30, &u); o->rcvbuf_bytes = (int)u; break;
        case O_GRO: o->gro = true; break;
        case O_NOGRO: o->gro = false; break;
        case O_OPTIONS: o->send_options = true; break;
        case O_ADDR: o->client_addr = optarg; break;
        case O_PORTBASE: ok = parse_uint(optarg, 1024, 65534, &u); o->client_port_base = (unsigned)(u & ~1ul); break;
        case O_PID: ok = parse_uint(optarg, 1, LONG_MAX, &u); o->server_pid = (long)u; break;
        case O_DUMP: o->dump_path = optarg; break;
        case O_POLL: ok = parse_double(optarg, 0, 100, &o->poll_ms); break;
        case O_HELP: usage(stdout); exit(0);
        default:
            fprintf(stderr, "rtsp-load: unknown option or missing value: %s\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "rtsp-load: bad value for --%s: '%s'\n", li >= 0 ? lo[li].name : "?",
                    optarg);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "rtsp-load: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!o->url || o->sessions == 0) {
        fprintf(stderr, "rtsp-load: --url and --sessions are required\n");
        usage(stderr);
        return 2;
    }
    return 0;
}

/* rtsp://host[:port]/... into an IPv4 address. */
static int resolve_url(struct run *r)
{
    const char *u = r->opt.url;
    if (strncasecmp(u, "rtsp://", 7) != 0) {
        fprintf(stderr, "rtsp-load: --url must start with rtsp://, got '%s'\n", u);
        return 2;
    }
    if (strlen(u) >= URL_CAP - 64) {
        fprintf(stderr, "rtsp-load: --url longer than %d bytes\n", URL_CAP - 64);
        return 2;
    }
    const char *h = u + 7;
    size_t hl = strcspn(h, "/?#");
    if (hl == 0 || hl >= sizeof r->host_port) {
        fprintf(stderr, "rtsp-load: --url has no host: '%s'\n", u);
        return 2;
    }
    memcpy(r->host_port, h, hl);
    r->host_port[hl] = '\0';
    if (strchr(r->host_port, '@') || r->host_port[0] == '[') {
        fprintf(stderr, "rtsp-load: --url: credentials and IPv6 literals are not supported: '%s'\n", u);
        return 2;
    }
    char host[300];
    snprintf(host, sizeof host, "%s", r->host_port);
    const char *port = "554";
    char *colon = strchr(host, ':');
    if (colon) {
        *colon = '\0';
        port = colon + 1;
    }
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    int e = getaddrinfo(host, port, &hints, &ai);
    if (e != 0 || !ai) {
        fprintf(stderr, "rtsp-load: cannot resolve %s: %s\n", r->host_port, gai_strerror(e));
        return 1;
    }
    memcpy(&r->server, ai->ai_addr, sizeof r->server);
    freeaddrinfo(ai);
    r->udp_bind.sin_family = AF_INET;
    if (inet_pton(AF_INET, r->opt.client_addr, &r->udp_bind.sin_addr) != 1) {
        fprintf(stderr, "rtsp-load: --client-addr is not an IPv4 address: '%s'\n",
                r->opt.client_addr);
        return 2;
    }
    return 0;
}

/* Room for 3 descriptors per session, and a receive buffer limit that
 * SO_RCVBUF may reach. */
static void raise_limits(const struct options *o)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rlim_t want = (rlim_t)o->sessions * 3 + 256;
        if (rl.rlim_cur < want) {
            rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
            if (geteuid() == 0 && rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
                rl.rlim_cur = rl.rlim_max = want;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    if (geteuid() == 0) {
        FILE *f = fopen("/proc/sys/net/core/rmem_max", "r+");
        if (f) {
            long cur = 0;
            if (fscanf(f, "%ld", &cur) == 1 && cur < o->rcvbuf_bytes) {
                rewind(f);
                fprintf(f, "%d\n", o->rcvbuf_bytes);
            }
            fclose(f);
        }
    }
}

static void print_results(const struct run *r, const struct results *res, double setup_s,
                          double sample_s, double client_cpu_pct, double server_cpu_s, long server_hwm_kib,
                          double machine_cpu_pct)
{
    const struct options *o = &r->opt;
    double rate = res->frames_expected ? (double)res->frames_on_time / (double)res->frames_expected : 0;
    double complete_rate =
        res->frames_expected ? (double)res->frames_complete / (double)res->frames_expected : 0;
    if (o->json) {
        printf("{\"url\": ");
        json_string(stdout, o->url);
        printf(", \"sessions_requested\": %u, \"sessions_established\": %u, "
               "\"sessions_failed_setup\": %u, \"sessions_lost\": %u, \"errors\": %u, ",
               o->sessions, r->established, r->failed_setup, r->lost_sessions, r->total_errors);
        printf("\"first_error\": ");
        if (r->first_error[0])
            json_string(stdout, r->first_error);
        else
            printf("null");
        printf(", ");
        printf("\"cpu_sample_seconds\": %.3f, ", sample_s);
        printf("\"setup_seconds\": %.3f, \"warmup_seconds\": %.3f, \"window_seconds\": %.3f, "
               "\"fps\": %.3f, \"late_ms\": %.3f, \"threads\": %u, \"gro\": %s, "
               "\"rcvbuf_bytes\": %d, ",
               setup_s, o->warmup_s, o->seconds, o->fps, o->late_ms, o->threads,
               r->gro_active ? "true" : "false", r->rcvbuf_effective);
        printf("\"frames_expected\": %" PRIu64 ", \"frames_received\": %" PRIu64
               ", \"frames_complete\": %" PRIu64 ", \"frames_on_time\": %" PRIu64
               ", \"frames_late\": %" PRIu64 ", \"frames_missing\": %" PRIu64
               ", \"on_time_rate\": %.6f, \"complete_rate\": %.6f, ",
               res->frames_expected, res->frames_received, res->frames_complete,
               res->frames_on_time, res->frames_late, res->frames_missing, rate, complete_rate);
        printf("\"lateness_ms\": {\"p50\": %.3f, \"p99\": %.3f, \"p99_9\": %.3f, \"max\": %.3f}, ",
               res->lateness_ms[0], res->lateness_ms[1], res->lateness_ms[2], res->lateness_ms[3]);
        printf("\"packets_received\": %" PRIu64 ", \"packets_lost\": %" PRId64
               ", \"bad_packets\": %" PRIu64 ", \"stray_packets\": %" PRIu64
               ", \"rtcp_packets\": %" PRIu64 ", \"client_socket_drops\": %" PRIu64
               ", \"sessions_with_loss\": %u"
               ", \"sessions_below_999\": %u, \"worst_session_on_time_rate\": %.6f, ",
               res->packets_received, res->packets_lost, res->bad_packets, res->stray_packets,
               res->rtcp_packets, res->client_drops, res->sessions_with_loss, res->sessions_below,
               res->worst_session_rate);
        printf("\"teardown_ok\": %u, \"teardown_failed\": %u, \"client_cpu_pct\": %.2f, "
               "\"machine_cpus\": %ld, \"machine_cpu_pct\": ",
               r->teardown_ok, r->teardown_failed, client_cpu_pct, sysconf(_SC_NPROCESSORS_ONLN));
        if (machine_cpu_pct >= 0)
            printf("%.2f", machine_cpu_pct);
        else
            printf("null");
        if (o->server_pid) {
            printf(", \"server_pid\": %ld, \"server_cpu_seconds\": ", o->server_pid);
            if (server_cpu_s >= 0)
                printf("%.3f, \"server_cpu_pct\": %.2f", server_cpu_s, 100.0 * server_cpu_s / sample_s);
            else
                printf("null, \"server_cpu_pct\": null");
            printf(", \"server_vmhwm_kib\": ");
            if (server_hwm_kib >= 0)
                printf("%ld", server_hwm_kib);
            else
                printf("null");
        }
        printf("}\n");
        return;
    }
    printf("url                 %s\n", o->url);
    printf("sessions            %u established of %u (%u failed in setup, %u lost later), "
           "setup %.2f s\n", r->established, o->sessions, r->failed_setup, r->lost_sessions, setup_s);
    printf("window              %.2f s after %.2f s warm-up, %.3g fps, on time <= %.3g ms\n",
           o->seconds, o->warmup_s, o->fps, o->late_ms);
    printf("frames              expected %" PRIu64 ", received %" PRIu64 ", complete %" PRIu64
           ", on time %" PRIu64 ", late %" PRIu64 ", missing %" PRIu64 "\n",
           res->frames_expected, res->frames_received, res->frames_complete, res->frames_on_time,
           res->frames_late, res->frames_missing);
    printf("on-time rate        %.4f %%  (complete %.4f %%; %u sessions below 99.9 %%, worst %.2f %%)\n",
           100.0 * rate, 100.0 * complete_rate, res->sessions_below, 100.0 * res->worst_session_rate);
    printf("lateness ms         p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n", res->lateness_ms[0],
           res->lateness_ms[1], res->lateness_ms[2], res->lateness_ms[3]);
    printf("packets             received %" PRIu64 ", lost %" PRId64 " (%u sessions with loss), "
           "bad %" PRIu64 ", stray %" PRIu64 ", rtcp %" PRIu64 "\n",
           res->packets_received, res->packets_lost, res->sessions_with_loss, res->bad_packets,
           res->stray_packets, res->rtcp_packets);
    printf("client              %u threads, GRO %s, SO_RCVBUF %d, CPU %.1f %% of a core, "
           "%" PRIu64 " datagrams dropped by our sockets%s\n",
           o->threads, r->gro_active ? "on" : "off", r->rcvbuf_effective, client_cpu_pct,
           res->client_drops, res->client_drops ? " (the client fell behind)" : "");
    if (machine_cpu_pct >= 0)
        printf("machine             %ld CPUs, %.1f %% of a core busy in all over the window\n",
               sysconf(_SC_NPROCESSORS_ONLN), machine_cpu_pct);
    if (o->server_pid) {
        if (server_cpu_s >= 0)
            printf("server pid %-8ld CPU %.1f %% of a core (%.4f %% per session)",
                   o->server_pid, 100.0 * server_cpu_s / sample_s,
                   r->established ? 100.0 * server_cpu_s / sample_s / r->established : 0.0);
        else
            printf("server pid %-8ld CPU unknown", o->server_pid);
        if (server_hwm_kib >= 0)
            printf(", VmHWM %.1f MiB\n", (double)server_hwm_kib / 1024.0);
        else
            printf(", VmHWM unknown\n");
    }
    printf("teardown            %u answered, %u failed\n", r->teardown_ok, r->teardown_failed);
}

int main(int argc, char **argv)
{
    struct run run;
    memset(&run, 0, sizeof run);
    struct run *r = &run;
    int rc = parse_args(argc, argv, &r->opt);
    if (rc)
        return rc;
    rc = resolve_url(r);
    if (rc)
        return rc;
    signal(SIGPIPE, SIG_IGN);
    raise_limits(&r->opt);
    const unsigned n = r->opt.sessions;
    g_ticks_per_frame = RTP_CLOCK_HZ / r->opt.fps;
    g_dgram_max = r->opt.gro ? GRO_DGRAM_MAX : RTP_DGRAM_MAX;
    g_poll_ns = (long)(r->opt.poll_ms * 1e6);
    r->next_udp_port = r->opt.client_port_base;
    r->sess = calloc(n, sizeof *r->sess);
    r->rx = calloc(n, sizeof *r->rx);
    r->threads = calloc(r->opt.threads, sizeof *r->threads);
    if (!r->sess || !r->rx || !r->threads) {
        fprintf(stderr, "rtsp-load: out of memory for %u sessions\n", n);
        return 1;
    }
    g_rx = r->rx;
    for (unsigned i = 0; i < n; i++) {
        r->sess[i].index = i;
        r->sess[i].tcp_fd = -1;
        r->rx[i].rtp_fd = -1;
        r->rx[i].rtcp_fd = -1;
    }
    r->ctl_epfd = epoll_create1(EPOLL_CLOEXEC);
    if (r->ctl_epfd < 0) {
        fprintf(stderr, "rtsp-load: epoll_create1: %s\n", strerror(errno));
        return 1;
    }
    for (unsigned t = 0; t < r->opt.threads; t++) {
        r->threads[t].id = t;
        r->threads[t].epfd = epoll_create1(EPOLL_CLOEXEC);
        if (r->threads[t].epfd < 0) {
            fprintf(stderr, "rtsp-load: epoll_create1: %s\n", strerror(errno));
            return 1;
        }
        int e = pthread_create(&r->threads[t].tid, NULL, rx_main, &r->threads[t]);
        if (e) {
            fprintf(stderr, "rtsp-load: pthread_create: %s\n", strerror(e));
            return 1;
        }
    }

    /* setup: start session i at t_begin + i / rate, at most setup_parallel at once */
    int64_t t_begin = clock_ns(CLOCK_MONOTONIC);
    int64_t last_deadline_check = t_begin;
    int64_t last_progress = t_begin;
    unsigned next = 0;
    while (next < n || r->inflight > 0) {
        int64_t now = clock_ns(CLOCK_MONOTONIC);
        while (next < n && r->inflight < r->opt.setup_parallel &&
               now >= t_begin + (int64_t)((double)next * 1e9 / r->opt.setup_rate)) {
            start_session(r, &r->sess[next]);
            next++;
        }
        int timeout_ms = 50;
        if (next < n && r->inflight < r->opt.setup_parallel) {
            int64_t due = t_begin + (int64_t)((double)next * 1e9 / r->opt.setup_rate);
            int64_t ms = (due - now) / 1000000;
            timeout_ms = ms < 0 ? 0 : ms < 50 ? (int)ms : 50;
        }
        ctl_poll(r, timeout_ms);
        now = clock_ns(CLOCK_MONOTONIC);
        if (now - last_deadline_check > 50000000) {
            check_deadlines(r);
            last_deadline_check = now;
        }
        if (!r->opt.json && now - last_progress > 2000000000) {
            fprintf(stderr, "rtsp-load: %u of %u sessions playing, %u failed\n", r->established,
                    n, r->failed_setup);
            last_progress = now;
        }
    }
    double setup_s = (double)(clock_ns(CLOCK_MONOTONIC) - t_begin) / 1e9;
    if (!r->opt.json || r->failed_setup)
        fprintf(stderr, "rtsp-load: %u of %u sessions playing after %.2f s%s\n", r->established,
                n, setup_s, r->failed_setup ? " (see errors above)" : "");

    /* warm-up, then the window; the receivers judge by kernel timestamps */
    int64_t t0 = clock_ns(CLOCK_REALTIME) + (int64_t)(r->opt.warmup_s * 1e9);
    int64_t t1 = t0 + (int64_t)(r->opt.seconds * 1e9);
    atomic_store(&g_window_end_ns, t1);
    atomic_store(&g_window_start_ns, t0);
    double cpu0 = 0, cpu1 = 0, srv0 = -1, srv1 = -1, mach0 = -1, mach1 = -1;
    int64_t sample0_ns = 0, sample1_ns = 0; /* CLOCK_MONOTONIC of the two samples */
    bool sampled0 = false, sampled1 = false;
    int64_t stop_at = t1 + 100000000; /* 100 ms for the window's last packets to be read */
    for (;;) {
        int64_t now = clock_ns(CLOCK_REALTIME);
        if (!sampled0 && now >= t0) {
            sample0_ns = clock_ns(CLOCK_MONOTONIC);
            cpu0 = rusage_cpu_s();
            mach0 = machine_busy_s();
            if (r->opt.server_pid)
                srv0 = proc_cpu_s(r->opt.server_pid);
            sampled0 = true;
        }
        if (!sampled1 && now >= t1) {
            sample1_ns = clock_ns(CLOCK_MONOTONIC);
            mach1 = machine_busy_s();
            cpu1 = rusage_cpu_s();
            if (r->opt.server_pid)
                srv1 = proc_cpu_s(r->opt.server_pid);
            sampled1 = true;
        }
        if (now >= stop_at)
            break;
        int64_t next_ev = !sampled0 ? t0 : !sampled1 ? t1 : stop_at;
        int64_t ms = (next_ev - now) / 1000000 + 1;
        ctl_poll(r, ms > 100 ? 100 : (int)ms);
        /* keepalives for long runs */
        int64_t mono = clock_ns(CLOCK_MONOTONIC);
        for (unsigned i = 0; i < n; i++) {
            struct session *s = &r->sess[i];
            if (s->state == S_PLAYING && s->tcp_fd >= 0 &&
                mono - s->last_request_ns > (int64_t)(r->opt.keepalive_s * 1e9)) {
                s->state = S_KEEPALIVE;
                if (!s->in) {
                    s->in = malloc(RTSP_IN_CAP);
                    s->in_len = 0;
                }
                send_request(r, s, "GET_PARAMETER", r->opt.url, NULL, true, false);
            }
        }
        if (mono - last_deadline_check > 50000000) {
            check_deadlines(r);
            last_deadline_check = mono;
        }
    }
    /* rates over the time that really passed between the two samples: on
     * a starved machine this thread samples late */
    double sample_s = (double)(sample1_ns - sample0_ns) / 1e9;
    if (sample_s <= 0)
        sample_s = r->opt.seconds;
    double client_cpu_pct = 100.0 * (cpu1 - cpu0) / sample_s;
    long server_hwm = r->opt.server_pid ? proc_vmhwm_kib(r->opt.server_pid) : -1;
    double server_cpu = srv0 >= 0 && srv1 >= 0 ? srv1 - srv0 : -1;

    /* TEARDOWN everything still connected, with the usual deadline */
    for (unsigned i = 0; i < n; i++) {
        struct session *s = &r->sess[i];
        if (s->tcp_fd < 0 || !(s->state == S_PLAYING || s->state == S_KEEPALIVE))
            continue;
        if (s->state == S_KEEPALIVE)
            s->stale_cseq = s->cseq; /* its reply may still come: skip it */
        if (!s->in) {
            s->in = malloc(RTSP_IN_CAP);
            s->in_len = 0;
        }
        s->state = S_TEARDOWN;
        send_request(r, s, "TEARDOWN", r->opt.url, NULL, true, false);
    }
    for (;;) {
        bool pending = false;
        for (unsigned i = 0; i < n && !pending; i++)
            pending = r->sess[i].state == S_TEARDOWN && r->sess[i].tcp_fd >= 0;
        if (!pending)
            break;
        ctl_poll(r, 50);
        check_deadlines(r);
    }

    /* the receivers drained the sockets until now (frames after the window
     * are not recorded), so that nothing piles up in the kernel meanwhile */
    atomic_store(&g_rx_stop, true);
    for (unsigned t = 0; t < r->opt.threads; t++)
        pthread_join(r->threads[t].tid, NULL);

    struct results res;
    if (!compute_results(r, &res)) {
        fprintf(stderr, "rtsp-load: out of memory computing results\n");
        return 1;
    }
    if (res.oom)
        fprintf(stderr, "rtsp-load: warning: out of memory, some frame records were dropped\n");
    if (res.client_drops)
        fprintf(stderr, "rtsp-load: warning: our sockets dropped %" PRIu64 " datagrams: the "
                "client fell behind, losses are not all the server's\n", res.client_drops);
    double machine_pct = mach0 >= 0 && mach1 >= 0 ? 100.0 * (mach1 - mach0) / sample_s : -1;
    print_results(r, &res, setup_s, sample_s, client_cpu_pct, server_cpu, server_hwm,
                  machine_pct);
    fflush(stdout);
    if (r->total_errors > MAX_PRINTED_ERRORS)
        fprintf(stderr, "rtsp-load: ... %u session errors in all\n", r->total_errors);

    for (unsigned i = 0; i < n; i++) {
        close_tcp(r, &r->sess[i]);
        free(r->sess[i].in);
        if (r->rx[i].rtp_fd >= 0)
            close(r->rx[i].rtp_fd);
        if (r->rx[i].rtcp_fd >= 0)
            close(r->rx[i].rtcp_fd);
        free(r->rx[i].frames);
    }
    return r->failed_setup || r->lost_sessions || r->established == 0 ? 1 : 0;
}
