/* rtsp-attack: the load tool of tests/integration/test_serve_attack.py.
 * Runs one attack against an RTSP server while a well-behaved client on a
 * thread of its own measures how promptly it is still served, and prints
 * one JSON line of figures.
 *
 * Attacks (--attack):
 *   none       nothing for --hold s: the good client alone (a baseline)
 *   cycles     --count TCP open/close cycles, --concurrency at once
 *   idle       --count connections opened, held silent for --hold s, closed
 *   pipeline   --count requests written back to back on one connection
 *              (at most --window unanswered) while the replies are read
 *   oversized  --count connections each sending a request of --bytes:
 *              one huge header, a huge body, or thousands of headers, in turn
 *   sessions   --count requests naming random Session ids, spread over
 *              --concurrency connections
 *
 * The good client sends OPTIONS every --interval-ms on its own connection
 * (the round trip is one latency sample) and every tenth time instead sets
 * up a UDP session of --path and measures PLAY to its first RTP packet.
 *
 * The JSON line: attempted, completed (ended as the attack meant), failed
 * and first_failure (the tool's side: connect errors, closes before a
 * reply), closed_by_server and spoke (idle: connections the server closed
 * or wrote to), bytes_sent, statuses (replies per status code), and good:
 * options and first_rtp as {n, p50_ms, p99_ms, max_ms}, errors, first_error.
 *
 * Exit status: 0 when the figures were measured (whatever they are), 2 on
 * bad options, 1 when the tool itself could not run.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rtsp.h"
#include "wire.h"

#define REPLY_CAP 16384        /* largest reply the tool reads */
#define MAX_HEADERS 64         /* headers per reply */
#define MAX_SAMPLES 100000     /* latency samples kept per kind */
#define STATUS_MAX 1000        /* status codes counted 0..999 */
#define EXCHANGE_TIMEOUT_MS 10000 /* the good client's deadline per exchange */
#define ATTACK_TIMEOUT_MS 60000   /* an attack connection's deadline */

struct options {
    const char *host;
    uint16_t port;
    const char *attack;
    unsigned count;
    unsigned concurrency;
    unsigned window;
    double hold_s;
    size_t bytes;
    const char *path;
    unsigned interval_ms;
    unsigned seed;
};

static struct options opt = {
    .host = "127.0.0.1", .attack = "none", .count = 1000, .concurrency = 32, .window = 1000,
    .hold_s = 2.0, .bytes = 1u << 20, .path = "movie.Mjpeg", .interval_ms = 50, .seed = 1,
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_s(double s)
{
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static struct sockaddr_in server_addr(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(opt.port)};
    inet_pton(AF_INET, opt.host, &a.sin_addr);
    return a;
}

/* ------------------------------------------------------------ latencies */

struct samples {
    double v[MAX_SAMPLES];
    size_t n;
};

static void samples_add(struct samples *s, double ms)
{
    if (s->n < MAX_SAMPLES)
        s->v[s->n++] = ms;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void samples_json(FILE *f, const char *name, struct samples *s)
{
    qsort(s->v, s->n, sizeof s->v[0], cmp_double);
    if (s->n == 0) {
        fprintf(f, "\"%s\":{\"n\":0}", name);
        return;
    }
    fprintf(f, "\"%s\":{\"n\":%zu,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f}", name, s->n,
            s->v[s->n / 2], s->v[(s->n * 99) / 100], s->v[s->n - 1]);
}

/* ---------------------------------------------------------- good client */

struct good {
    pthread_t thread;
    atomic_bool stop;
    struct samples options;   /* OPTIONS round trips */
    struct samples first_rtp; /* PLAY sent to first RTP packet */
    unsigned errors;
    char first_error[256];
    int fd;                   /* its RTSP connection, -1 when none */
    unsigned cseq;
    char in[REPLY_CAP];
    size_t in_len;
    size_t consumed;          /* bytes of in holding the last reply */
};

static void good_error(struct good *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void good_error(struct good *g, const char *fmt, ...)
{
    if (g->errors++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g->first_error, sizeof g->first_error, fmt, ap);
        va_end(ap);
    }
    if (g->fd >= 0)
        close(g->fd);
    g->fd = -1;
    g->in_len = 0;
    g->consumed = 0;
}

/* Sends a request and reads its reply into g->in; fills msg, which stays
 * valid until the next exchange. Returns the status, or -1 after counting
 * an error. */
static int good_exchange(struct good *g, const char *method, const char *url, const char *extra,
                         struct rtsp_msg *msg, struct rtsp_header *hdrs)
{
    memmove(g->in, g->in + g->consumed, g->in_len - g->consumed);
    g->in_len -= g->consumed;
    g->consumed = 0;
    if (g->fd < 0) {
        g->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = server_addr();
        if (g->fd < 0 || connect(g->fd, (struct sockaddr *)&a, sizeof a) != 0) {
            good_error(g, "connect: %s", strerror(errno));
            return -1;
        }
        int one = 1;
        setsockopt(g->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    char req[1024];
    int len = snprintf(req, sizeof req, "%s %s RTSP/1.0\r\nCSeq: %u\r\n%s\r\n", method, url,
                       ++g->cseq, extra);
    if (send(g->fd, req, (size_t)len, MSG_NOSIGNAL) != len) {
        good_error(g, "send: %s", strerror(errno));
        return -1;
    }
    double deadline = now_ms() + EXCHANGE_TIMEOUT_MS;
    for (;;) {
        struct rtsp_parse_opts po = {.mode = RTSP_LENIENT, .max_header_bytes = REPLY_CAP};
        struct wire_error err;
        int n = rtsp_parse(g->in, g->in_len, &po, msg, hdrs, MAX_HEADERS, &err);
        if (n > 0) {
            if (msg->is_request) {
                good_error(g, "%s: a request came instead of a reply", method);
                return -1;
            }
            g->consumed = (size_t)n;
            return msg->status;
        }
        if (n == WIRE_ERROR || g->in_len == sizeof g->in) {
            good_error(g, "%s: malformed reply", method);
            return -1;
        }
        struct pollfd p = {.fd = g->fd, .events = POLLIN};
        int left = (int)(deadline - now_ms());
        if (left <= 0 || poll(&p, 1, left) <= 0) {
            good_error(g, "%s: no reply within 10 s", method);
            return -1;
        }
        ssize_t r = recv(g->fd, g->in + g->in_len, sizeof g->in - g->in_len, 0);
        if (r <= 0) {
            good_error(g, "%s: connection closed", method);
            return -1;
        }
        g->in_len += (size_t)r;
    }
}

/* An even/odd UDP port pair; returns the RTP socket, *rtcp the other. */
static int udp_pair(int *rtcp, uint16_t *port)
{
    for (int attempt = 0; attempt < 50; attempt++) {
        int a = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t sl = sizeof sa;
        if (a < 0 || bind(a, (struct sockaddr *)&sa, sizeof sa) != 0 ||
            getsockname(a, (struct sockaddr *)&sa, &sl) != 0) {
            if (a >= 0)
                close(a);
            return -1;
        }
        uint16_t p = ntohs(sa.sin_port);
        int b = -1;
        if (p % 2 == 0 && p < 65535) {
            b = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            sa.sin_port = htons((uint16_t)(p + 1));
            if (b >= 0 && bind(b, (struct sockaddr *)&sa, sizeof sa) == 0) {
                *rtcp = b;
                *port = p;
                return a;
            }
            if (b >= 0)
                close(b);
        }
        close(a);
    }
    return -1;
}

/* The Session id of a reply, up to ';'. */
static bool reply_session(const struct rtsp_msg *msg, char *out, size_t cap)
{
    const struct wire_str *v = rtsp_msg_header(msg, "Session");
    if (!v)
        return false;
    size_t n = 0;
    while (n < v->len && v->ptr[n] != ';' && v->ptr[n] != ' ')
        n++;
    if (n == 0 || n >= cap)
        return false;
    memcpy(out, v->ptr, n);
    out[n] = '\0';
    return true;
}

/* SETUP over UDP, PLAY, wait for the first RTP packet, TEARDOWN. */
static void good_play(struct good *g, const char *url)
{
    int rtcp = -1;
    uint16_t port = 0;
    int rtp = udp_pair(&rtcp, &port);
    if (rtp < 0) {
        good_error(g, "UDP ports: %s", strerror(errno));
        return;
    }
    struct rtsp_msg msg;
    struct rtsp_header hdrs[MAX_HEADERS];
    char track[600], extra[256], sid[64];
    snprintf(track, sizeof track, "%s/track0", url);
    snprintf(extra, sizeof extra, "Transport: RTP/AVP;unicast;client_port=%u-%u\r\n", port,
             port + 1);
    int st = good_exchange(g, "SETUP", track, extra, &msg, hdrs);
    if (st != 200 || !reply_session(&msg, sid, sizeof sid)) {
        if (st >= 0)
            good_error(g, "SETUP: %s", st == 200 ? "no Session header" : "not answered 200");
        goto out;
    }
    snprintf(extra, sizeof extra, "Session: %s\r\n", sid);
    double t0 = now_ms();
    st = good_exchange(g, "PLAY", url, extra, &msg, hdrs);
    if (st != 200) {
        if (st >= 0)
            good_error(g, "PLAY: %s", "not answered 200");
        goto out;
    }
    struct pollfd p = {.fd = rtp, .events = POLLIN};
    int left = (int)(t0 + EXCHANGE_TIMEOUT_MS - now_ms());
    if (left > 0 && poll(&p, 1, left) == 1)
        samples_add(&g->first_rtp, now_ms() - t0);
    else
        good_error(g, "%s", "no RTP within 10 s of PLAY");
    if (g->fd >= 0)
        good_exchange(g, "TEARDOWN", url, extra, &msg, hdrs);
out:
    close(rtp);
    close(rtcp);
}

static void *good_main(void *arg)
{
    struct good *g = arg;
    char base[128], url[512];
    snprintf(base, sizeof base, "rtsp://%s:%u/", opt.host, opt.port);
    snprintf(url, sizeof url, "%s%s", base, opt.path);
    for (unsigned i = 0; !atomic_load(&g->stop); i++) {
        if (i % 10 == 9) {
            good_play(g, url);
        } else {
            struct rtsp_msg msg;
            struct rtsp_header hdrs[MAX_HEADERS];
            double t0 = now_ms();
            int st = good_exchange(g, "OPTIONS", base, "", &msg, hdrs);
            if (st == 200)
                samples_add(&g->options, now_ms() - t0);
            else if (st >= 0)
                good_error(g, "%s", "OPTIONS not answered 200");
        }
        sleep_s(opt.interval_ms / 1e3);
    }
    if (g->fd >= 0)
        close(g->fd);
    return NULL;
}

/* --------------------------------------------------------- attack state */

struct figures {
    unsigned attempted;   /* connections or requests started */
    unsigned completed;   /* ended as the attack meant */
    unsigned failed;      /* connect errors, resets before a reply, timeouts */
    unsigned closed_by_server; /* idle: connections the server closed */
    unsigned spoke;       /* idle: connections the server sent bytes to */
    unsigned statuses[STATUS_MAX];
    uint64_t bytes_sent;
    char first_failure[256];
};

static struct figures fig;

static void failure(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void failure(const char *fmt, ...)
{
    if (fig.failed++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(fig.first_failure, sizeof fig.first_failure, fmt, ap);
        va_end(ap);
    }
}

static int connect_nonblocking(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = server_addr();
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static bool connect_result_ok(int fd)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err) {
        failure("connect: %s", strerror(err));
        return false;
    }
    return true;
}

/* Status of the first reply in buf: -1 when not yet complete. */
static int first_status(const char *buf, size_t len)
{
    struct rtsp_msg msg;
    struct rtsp_header hdrs[MAX_HEADERS];
    struct rtsp_parse_opts po = {.mode = RTSP_LENIENT, .max_header_bytes = REPLY_CAP};
    struct wire_error err;
    int n = rtsp_parse(buf, len, &po, &msg, hdrs, MAX_HEADERS, &err);
    if (n > 0 && !msg.is_request)
        return msg.status;
    return n == WIRE_INCOMPLETE ? -1 : 0;
}

static void count_status(int status)
{
    if (status >= 0 && status < STATUS_MAX)
        fig.statuses[status]++;
}

/* --count connections opened, --concurrency in flight, each counted once
 * it is established (or refused). keep: NULL to close each one then
 * (cycles); else keep[i] receives the i-th descriptor, -1 when it could not
 * be opened, and the connections stay open (idle). Returns how many were
 * attempted. */
static unsigned connect_many(int ep, int *keep)
{
    unsigned started = 0, pending = 0;
    while (started < opt.count || pending > 0) {
        while (started < opt.count && pending < opt.concurrency) {
            int fd = connect_nonblocking();
            if (keep)
                keep[started] = fd;
            started++;
            if (fd < 0) {
                failure("connect: %s", strerror(errno));
                continue;
            }
            struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
            epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
            pending++;
        }
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, ATTACK_TIMEOUT_MS);
        if (n <= 0) {
            failure("%s", "connections not established within 60 s");
            break;
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (connect_result_ok(fd))
                fig.completed++;
            if (keep)
                epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
            else
                close(fd);
            pending--;
        }
    }
    fig.attempted = started;
    return started;
}

/* cycles: connect, wait until established, close. */
static void attack_cycles(int ep)
{
    connect_many(ep, NULL);
}

/* idle: --count connections established, held without a byte, then closed.
 * A connection the server closed meanwhile shows as readable (EOF). */
static void attack_idle(int ep)
{
    int *fds = calloc(opt.count, sizeof *fds);
    if (!fds) {
        failure("%s", "out of memory");
        return;
    }
    unsigned started = connect_many(ep, fds);
    sleep_s(opt.hold_s);
    for (unsigned i = 0; i < started; i++) {
        if (fds[i] < 0)
            continue;
        char b;
        ssize_t r = recv(fds[i], &b, 1, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            fig.closed_by_server++;
        else if (r > 0)
            fig.spoke++;
        close(fds[i]);
    }
    free(fds);
}

/* pipeline: --count requests written back to back, at most --window
 * unanswered, while the replies are read; each reply is parsed and its
 * status counted. */
static void attack_pipeline(void)
{
    char base[128];
    snprintf(base, sizeof base, "rtsp://%s:%u/", opt.host, opt.port);
    size_t per = strlen(base) + strlen(opt.path) + 128;
    char *out = malloc(per * opt.count);
    char *in = malloc(REPLY_CAP * 4);
    size_t *ends = malloc(sizeof *ends * (opt.count + 1)); /* ends[i]: bytes of requests 0..i-1 */
    if (!out || !in || !ends) {
        free(out);
        free(in);
        free(ends);
        failure("%s", "out of memory");
        return;
    }
    size_t out_len = 0;
    ends[0] = 0;
    for (unsigned i = 0; i < opt.count; i++) {
        /* OPTIONS, DESCRIBE and GET_PARAMETER in turn: short and long replies */
        static const char *const methods[] = {"OPTIONS", "DESCRIBE", "GET_PARAMETER"};
        const char *m = methods[i % 3];
        out_len += (size_t)snprintf(out + out_len, per, "%s %s%s RTSP/1.0\r\nCSeq: %u\r\n\r\n", m,
                                    base, i % 3 == 0 ? "" : opt.path, i + 1);
        ends[i + 1] = out_len;
    }
    fig.attempted = opt.count;
    int fd = connect_nonblocking();
    if (fd < 0) {
        failure("connect: %s", strerror(errno));
        goto out;
    }
    size_t sent = 0, in_len = 0;
    double deadline = now_ms() + ATTACK_TIMEOUT_MS;
    bool connected = false;
    while (fig.completed < opt.count) {
        /* at most --window requests unanswered: the server may drop a client
         * whose unread replies pile up (docs/serve.md) */
        unsigned upto = fig.completed + opt.window < opt.count ? fig.completed + opt.window : opt.count;
        size_t allowed = ends[upto];
        struct pollfd p = {.fd = fd, .events = POLLIN | (sent < allowed ? POLLOUT : 0)};
        int left = (int)(deadline - now_ms());
        if (left <= 0 || poll(&p, 1, left) <= 0) {
            failure("%s", "replies stopped coming for 60 s");
            break;
        }
        if (!connected && (p.revents & (POLLOUT | POLLERR | POLLHUP))) {
            if (!connect_result_ok(fd))
                break;
            connected = true;
        }
        if ((p.revents & POLLOUT) && sent < allowed) {
            ssize_t w = send(fd, out + sent, allowed - sent, MSG_NOSIGNAL);
            if (w > 0) {
                sent += (size_t)w;
                fig.bytes_sent += (uint64_t)w;
            }
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = recv(fd, in + in_len, REPLY_CAP * 4 - in_len, 0);
            if (r <= 0) {
                failure("%s", r == 0 ? "connection closed before every reply came"
                                     : "connection reset before every reply came");
                break;
            }
            in_len += (size_t)r;
            for (;;) {
                struct rtsp_msg msg;
                struct rtsp_header hdrs[MAX_HEADERS];
                struct rtsp_parse_opts po = {.mode = RTSP_LENIENT, .max_header_bytes = REPLY_CAP};
                struct wire_error err;
                int n = rtsp_parse(in, in_len, &po, &msg, hdrs, MAX_HEADERS, &err);
                if (n == WIRE_INCOMPLETE)
                    break;
                if (n < 0 || msg.is_request) {
                    failure("%s", "a malformed reply");
                    goto done;
                }
                count_status(msg.status);
                fig.completed++;
                memmove(in, in + n, in_len - (size_t)n);
                in_len -= (size_t)n;
            }
        }
    }
done:
    close(fd);
out:
    free(out);
    free(in);
    free(ends);
}

/* oversized: each connection sends one request of about --bytes (a header
 * line, a body, or 16-byte headers, in turn) and reads the reply. Sending
 * stops early when the server has answered or closed. */
struct big_conn {
    int fd;
    unsigned kind;
    size_t sent;
    size_t total;
    char head[256];
    size_t head_len;
    char in[4096];
    size_t in_len;
    bool connected;
    double started_ms;
};

static void big_start(struct big_conn *b, unsigned index)
{
    memset(b, 0, sizeof *b);
    b->kind = index % 3;
    b->started_ms = now_ms();
    if (b->kind == 1)
        b->head_len = (size_t)snprintf(b->head, sizeof b->head,
                                       "SET_PARAMETER rtsp://%s:%u/%s RTSP/1.0\r\nCSeq: 1\r\n"
                                       "Content-Type: text/parameters\r\nContent-Length: %zu\r\n\r\n",
                                       opt.host, opt.port, opt.path, opt.bytes);
    else
        b->head_len = (size_t)snprintf(b->head, sizeof b->head,
                                       "DESCRIBE rtsp://%s:%u/%s RTSP/1.0\r\nCSeq: 1\r\n%s",
                                       opt.host, opt.port, opt.path, b->kind == 0 ? "X-Big: " : "");
    b->total = b->head_len + opt.bytes + (b->kind == 1 ? 0 : 4);
    b->fd = connect_nonblocking();
}

/* The byte at position pos of connection b's request. */
static char big_byte(const struct big_conn *b, size_t pos)
{
    if (pos < b->head_len)
        return b->head[pos];
    pos -= b->head_len;
    if (pos >= opt.bytes)
        return "\r\n\r\n"[pos - opt.bytes];
    if (b->kind == 2) /* one 16-byte header after the other */
        return "X-H01234567: v\r\n"[pos % 16];
    return 'a';
}

static void big_finish(int ep, struct big_conn *b, int status)
{
    if (status > 0) {
        count_status(status);
        fig.completed++;
    }
    epoll_ctl(ep, EPOLL_CTL_DEL, b->fd, NULL);
    close(b->fd);
    b->fd = -1;
}

static void attack_oversized(int ep)
{
    unsigned slots = opt.concurrency < opt.count ? opt.concurrency : opt.count;
    struct big_conn *conns = calloc(slots, sizeof *conns);
    char *chunk = malloc(65536);
    if (!conns || !chunk) {
        free(conns);
        free(chunk);
        failure("%s", "out of memory");
        return;
    }
    unsigned started = 0, active = 0;
    for (unsigned i = 0; i < slots; i++)
        conns[i].fd = -1;
    while (started < opt.count || active > 0) {
        for (unsigned i = 0; i < slots && started < opt.count; i++) {
            if (conns[i].fd >= 0)
                continue;
            big_start(&conns[i], started++);
            if (conns[i].fd < 0) {
                failure("connect: %s", strerror(errno));
                continue;
            }
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = i};
            epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
            active++;
        }
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, ATTACK_TIMEOUT_MS);
        if (n <= 0) {
            failure("%s", "no progress for 60 s");
            break;
        }
        for (int e = 0; e < n; e++) {
            struct big_conn *b = &conns[evs[e].data.u32];
            if (b->fd < 0)
                continue;
            if (!b->connected) {
                if (!connect_result_ok(b->fd)) {
                    big_finish(ep, b, 0);
                    active--;
                    continue;
                }
                b->connected = true;
            }
            if ((evs[e].events & EPOLLOUT) && b->sent < b->total) {
                size_t len = b->total - b->sent < 65536 ? b->total - b->sent : 65536;
                for (size_t k = 0; k < len; k++)
                    chunk[k] = big_byte(b, b->sent + k);
                ssize_t w = send(b->fd, chunk, len, MSG_NOSIGNAL);
                if (w > 0) {
                    b->sent += (size_t)w;
                    fig.bytes_sent += (uint64_t)w;
                } else if (errno != EAGAIN) {
                    b->total = b->sent; /* the server stopped reading: wait for its reply */
                }
                if (b->sent == b->total) {
                    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = evs[e].data.u32};
                    epoll_ctl(ep, EPOLL_CTL_MOD, b->fd, &ev);
                }
            }
            if (evs[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                ssize_t r = recv(b->fd, b->in + b->in_len, sizeof b->in - b->in_len - 1, 0);
                if (r > 0)
                    b->in_len += (size_t)r;
                int st = first_status(b->in, b->in_len);
                if (st > 0 || r <= 0 || b->in_len == sizeof b->in - 1) {
                    if (st <= 0)
                        failure("%s", "closed without a reply");
                    big_finish(ep, b, st);
                    active--;
                }
            }
        }
    }
    for (unsigned i = 0; i < slots; i++)
        if (conns[i].fd >= 0)
            close(conns[i].fd);
    fig.attempted = started;
    free(conns);
    free(chunk);
}

/* sessions: requests with random Session ids (hex, digits, or any token
 * characters, 1-64 long), on --concurrency connections, one at a time each. */
struct sess_conn {
    int fd;
    char in[REPLY_CAP];
    size_t in_len;
};

static uint32_t rng_state;

static uint32_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static size_t random_session_request(char *out, size_t cap, unsigned cseq)
{
    static const char *const methods[] = {"PLAY", "PAUSE", "TEARDOWN", "GET_PARAMETER",
                                          "SET_PARAMETER", "SETUP"};
    static const char *const alphabets[] = {"0123456789ABCDEF", "0123456789",
                                            "0123456789abcdefghijklmnopqrstuvwxyz"
                                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ$-_.+"};
    const char *alpha = alphabets[rng_next() % 3];
    size_t alpha_len = strlen(alpha);
    size_t id_len = rng_next() % 3 == 0 ? 16 : 1 + rng_next() % 64;
    char id[65];
    for (size_t i = 0; i < id_len; i++)
        id[i] = alpha[rng_next() % alpha_len];
    id[id_len] = '\0';
    const char *m = methods[rng_next() % 6];
    bool setup = strcmp(m, "SETUP") == 0;
    return (size_t)snprintf(out, cap,
                            "%s rtsp://%s:%u/%s%s RTSP/1.0\r\nCSeq: %u\r\nSession: %s\r\n%s\r\n", m,
                            opt.host, opt.port, opt.path, setup ? "/track0" : "", cseq, id,
                            setup ? "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n" : "");
}

static bool sess_send(struct sess_conn *c, unsigned cseq)
{
    char req[512];
    size_t len = random_session_request(req, sizeof req, cseq);
    if (send(c->fd, req, len, MSG_NOSIGNAL) != (ssize_t)len) {
        failure("send: %s", strerror(errno));
        return false;
    }
    fig.bytes_sent += len;
    return true;
}

static void attack_sessions(int ep)
{
    unsigned nconns = opt.concurrency < opt.count ? opt.concurrency : opt.count;
    struct sess_conn *conns = calloc(nconns, sizeof *conns);
    if (!conns) {
        failure("%s", "out of memory");
        return;
    }
    rng_state = opt.seed ? opt.seed : 1;
    unsigned sent = 0, open = 0;
    for (unsigned i = 0; i < nconns; i++) {
        conns[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = server_addr();
        if (conns[i].fd < 0 || connect(conns[i].fd, (struct sockaddr *)&a, sizeof a) != 0) {
            failure("connect: %s", strerror(errno));
            if (conns[i].fd >= 0)
                close(conns[i].fd);
            conns[i].fd = -1;
            continue;
        }
        fcntl(conns[i].fd, F_SETFL, O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
        open++;
        if (sent < opt.count && !sess_send(&conns[i], ++sent)) {
            close(conns[i].fd);
            conns[i].fd = -1;
            open--;
        }
    }
    while (open > 0 && fig.completed + fig.failed < opt.count) {
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, ATTACK_TIMEOUT_MS);
        if (n <= 0) {
            failure("%s", "replies stopped coming for 60 s");
            break;
        }
        for (int e = 0; e < n; e++) {
            struct sess_conn *c = &conns[evs[e].data.u32];
            if (c->fd < 0)
                continue;
            ssize_t r = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN)
                    continue;
                failure("%s", "connection closed by the server");
                close(c->fd);
                c->fd = -1;
                open--;
                continue;
            }
            c->in_len += (size_t)r;
            struct rtsp_msg msg;
            struct rtsp_header hdrs[MAX_HEADERS];
            struct rtsp_parse_opts po = {.mode = RTSP_LENIENT, .max_header_bytes = REPLY_CAP};
            struct wire_error err;
            int k = rtsp_parse(c->in, c->in_len, &po, &msg, hdrs, MAX_HEADERS, &err);
            if (k == WIRE_INCOMPLETE)
                continue;
            if (k < 0 || msg.is_request) {
                failure("%s", "a malformed reply");
                close(c->fd);
                c->fd = -1;
                open--;
                continue;
            }
            count_status(msg.status);
            fig.completed++;
            c->in_len = 0;
            if (sent < opt.count && !sess_send(c, ++sent)) {
                close(c->fd);
                c->fd = -1;
                open--;
            }
        }
    }
    for (unsigned i = 0; i < nconns; i++)
        if (conns[i].fd >= 0)
            close(conns[i].fd);
    fig.attempted = sent;
    free(conns);
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *f)
{
    fprintf(f, "usage: rtsp-attack --port PORT [--host ADDR] [--attack none|cycles|idle|pipeline|"
               "oversized|sessions]\n"
               "         [--count N] [--concurrency N] [--window N] [--hold S] [--bytes N] [--path NAME]\n"
               "         [--interval-ms MS] [--seed N]\n");
}

static bool parse_uint(const char *name, const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v > max) {
        fprintf(stderr, "rtsp-attack: %s: '%s' is not a number from 0 to %llu\n", name, s, max);
        return false;
    }
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"host", required_argument, NULL, 'H'},     {"port", required_argument, NULL, 'p'},
        {"attack", required_argument, NULL, 'a'},   {"count", required_argument, NULL, 'n'},
        {"concurrency", required_argument, NULL, 'c'}, {"hold", required_argument, NULL, 'h'},
        {"bytes", required_argument, NULL, 'b'},    {"path", required_argument, NULL, 'P'},
        {"interval-ms", required_argument, NULL, 'i'}, {"seed", required_argument, NULL, 's'},
        {"window", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, '?'},           {NULL, 0, NULL, 0},
    };
    int ch;
    unsigned long long v;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'H': opt.host = optarg; break;
        case 'a': opt.attack = optarg; break;
        case 'P': opt.path = optarg; break;
        case 'p':
            if (!parse_uint("--port", optarg, 65535, &v)) return 2;
            opt.port = (uint16_t)v;
            break;
        case 'n':
            if (!parse_uint("--count", optarg, 10000000, &v)) return 2;
            opt.count = (unsigned)v;
            break;
        case 'c':
            if (!parse_uint("--concurrency", optarg, 100000, &v) || v == 0) return 2;
            opt.concurrency = (unsigned)v;
            break;
        case 'w':
            if (!parse_uint("--window", optarg, 10000000, &v) || v == 0) return 2;
            opt.window = (unsigned)v;
            break;
        case 'b':
            if (!parse_uint("--bytes", optarg, 1u << 30, &v)) return 2;
            opt.bytes = (size_t)v;
            break;
        case 'i':
            if (!parse_uint("--interval-ms", optarg, 60000, &v)) return 2;
            opt.interval_ms = (unsigned)v;
            break;
        case 's':
            if (!parse_uint("--seed", optarg, UINT32_MAX, &v)) return 2;
            opt.seed = (unsigned)v;
            break;
        case 'h': {
            char *end;
            opt.hold_s = strtod(optarg, &end);
            if (*end || opt.hold_s < 0 || opt.hold_s > 3600) {
                fprintf(stderr, "rtsp-attack: --hold: '%s' is not seconds from 0 to 3600\n", optarg);
                return 2;
            }
            break;
        }
        default: usage(stderr); return 2;
        }
    }
    static const char *const attacks[] = {"none", "cycles", "idle", "pipeline", "oversized",
                                          "sessions"};
    int attack = -1;
    for (int i = 0; i < 6; i++)
        if (strcmp(opt.attack, attacks[i]) == 0)
            attack = i;
    struct in_addr probe;
    if (opt.port == 0 || attack < 0 || optind != argc || inet_pton(AF_INET, opt.host, &probe) != 1) {
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    /* idle holds --count descriptors at once */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < opt.count + 256 &&
        rl.rlim_max >= opt.count + 256) {
        rl.rlim_cur = opt.count + 256;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct good *g = calloc(1, sizeof *g);
    if (ep < 0 || !g) {
        fprintf(stderr, "rtsp-attack: %s\n", strerror(errno));
        return 1;
    }
    g->fd = -1;
    if (pthread_create(&g->thread, NULL, good_main, g) != 0) {
        fprintf(stderr, "rtsp-attack: cannot start the good client\n");
        return 1;
    }
    /* the good client's first exchanges happen before the attack starts */
    sleep_s(0.2);
    double t0 = now_ms();
    switch (attack) {
    case 0: sleep_s(opt.hold_s); break;
    case 1: attack_cycles(ep); break;
    case 2: attack_idle(ep); break;
    case 3: attack_pipeline(); break;
    case 4: attack_oversized(ep); break;
    case 5: attack_sessions(ep); break;
    }
    double seconds = (now_ms() - t0) / 1e3;
    atomic_store(&g->stop, true);
    pthread_join(g->thread, NULL);

    printf("{\"attack\":\"%s\",\"seconds\":%.3f,\"attempted\":%u,\"completed\":%u,"
           "\"per_second\":%.1f,\"failed\":%u,\"first_failure\":\"%s\",\"closed_by_server\":%u,\"spoke\":%u,"
           "\"bytes_sent\":%" PRIu64 ",\"statuses\":{",
           opt.attack, seconds, fig.attempted, fig.completed,
           seconds > 0 ? fig.completed / seconds : 0.0, fig.failed, fig.first_failure,
           fig.closed_by_server, fig.spoke, fig.bytes_sent);
    bool first = true;
    for (int s = 0; s < STATUS_MAX; s++) {
        if (fig.statuses[s]) {
            printf("%s\"%d\":%u", first ? "" : ",", s, fig.statuses[s]);
            first = false;
        }
    }
    printf("},\"good\":{");
    samples_json(stdout, "options", &g->options);
    putchar(',');
    samples_json(stdout, "first_rtp", &g->first_rtp);
    printf(",\"errors\":%u,\"first_error\":\"%s\"}}\n", g->errors, g->first_error);
    free(g);
    close(ep);
    return 0;
}
