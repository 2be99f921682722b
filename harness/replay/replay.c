/* The replay engine (see replay.h): runs a parsed scenario's steps in
 * order on one thread. Every socket is nonblocking and one poll() loop
 * (service) does all the I/O whatever step is running: RTSP connections
 * are read into per-connection queues of complete messages as bytes come,
 * interleaved RTP frames and the RTP/RTCP sockets are drained and counted,
 * queued output is flushed, `rtp send` streams are paced, `at` events fire
 * and the system under test is polled for its death. A step then only
 * looks at the queues and the clock. CLOCK_MONOTONIC gives deadlines,
 * CLOCK_REALTIME the times recorded for the run (libpcap's clock). */
#include "replay.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>


#include "mjpeg.h"
#include "server/auth.h"
#include "outbuf.h"
#include "rtcp.h"
#include "rtp.h"
#include "rtpjpeg.h"
#include "rtsp.h"
#include "rtsp_hdr.h"
#include "sdp.h"
#include "wire.h"

#define LAB_IDLE_MS      300          /* a lab message ends when its peer is quiet this long */
#define SUT_POLL_MS      100          /* how often hooks->sut_gone is asked */
#define IN_MAX           (4u << 20)   /* bytes buffered per connection before a message is refused */
#define HEADER_MAX       65536        /* header section of a message read */
#define BODY_MAX         (1u << 20)   /* body of a message read (an SDP is a few hundred bytes) */
#define OUT_MAX          (16u << 20)  /* bytes queued per connection before RTP frames are dropped */
#define MSGQ             64           /* complete messages queued per connection */
#define MAX_HDRS         96           /* headers parsed per message */
#define PENDING_MAX      64           /* requests awaiting replies per connection */
#define RTP_MAX_PAYLOAD  1360         /* RTP/JPEG payload per packet: a 1400-byte IPv4 MTU */
#define MEDIA_MAX_BYTES  (256u << 20) /* largest media file `rtp send` reads */
#define LAB_MAX_DATAGRAM 65507        /* a lab frame travels in one UDP datagram */
#define CONNECT_RETRY_MS 100          /* pause between connection attempts on ECONNREFUSED */
#define MAX_VARS         256          /* captured variables */

/* ---------- time ---------- */


static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Deterministic 64-bit values from the run seed (splitmix64). */
static uint64_t mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* ---------- state ---------- */

/* A message read from a connection, waiting for a step. */
struct msg_item {
    char *text;      /* its bytes, NUL-terminated (malloc) */
    size_t len;      /* bytes */
    int64_t time_ns; /* CLOCK_REALTIME when it was complete */
    bool bad;        /* the bytes do not parse as a message */
    char error[160]; /* why, when bad */
};

/* A request sent and not answered yet (server role). */
struct pending {
    int exchange;    /* index into the result's exchanges */
    bool has_cseq;   /* it carried a CSeq */
    uint32_t cseq;   /* that CSeq */
    char method[24]; /* its method, "" for raw bytes that do not parse */
    char uri[256];   /* its request URI */
    unsigned line;   /* scenario line of its `>` block */
};

/* A `rtp send` stream (client role). */
struct streamer {
    bool active;          /* frames are being sent */
    double fps;           /* frame rate */
    int64_t t0_us;        /* monotonic time of frame 0 of the current schedule */
    uint64_t k;           /* frames sent in the current schedule */
    size_t frame;         /* index of the next media frame (loops) */
    uint64_t frames_sent; /* frames sent since the first `rtp send` */
    uint16_t seq;         /* next RTP sequence number */
    uint32_t ssrc;        /* SSRC */
    uint32_t ts_base;     /* RTP timestamp of frame 0 */
    uint64_t packets;     /* packets written */
    uint64_t bytes;       /* RTP bytes written */
    uint64_t dropped;     /* packets the socket or the queue refused */
    bool warned;          /* a packetizing failure was recorded */
};

struct conn {
    char name[SCENARIO_NAME_MAX]; /* scenario name of the connection */
    int index;                    /* position in engine.conns */
    bool used;                    /* this slot was opened at least once */
    int fd;                       /* RTSP socket; -1 when closed */
    bool eof;                     /* the peer closed (or reset) the connection */
    bool closed_by_us;            /* `close` closed it */
    char eof_why[96];             /* "closed by the peer", "reset: ..." */
    char local[64];               /* "ip:port" of our end */
    char remote[64];              /* "ip:port" of the peer */
    struct sockaddr_in peer;      /* the peer's address */
    /* input */
    char *in;                /* unparsed bytes */
    size_t in_len;           /* bytes in in */
    size_t in_cap;           /* allocated */
    int64_t last_rx_ms;      /* monotonic time of the last bytes read */
    bool idle_parse;         /* waiting for the peer to go idle to end a message */
    struct msg_item q[MSGQ]; /* complete messages, oldest first from q_head */
    unsigned q_head;         /* index of the oldest */
    unsigned q_len;          /* how many */
    uint64_t messages_in;    /* messages ever queued */
    /* output */
    struct outbuf out; /* bytes not written yet */
    uint64_t out_sent; /* bytes the kernel has taken since the connection opened */
    bool write_failed; /* a write failed; eof_why says why */
    /* server role */
    uint32_t next_cseq;               /* CSeq of the next request */
    struct pending pend[PENDING_MAX]; /* unanswered requests, oldest first from pend_head */
    unsigned pend_head;               /* index of the oldest */
    unsigned pend_len;                /* how many */
    int next_channel;                 /* interleaved channel pair the next automatic SETUP offers */
    /* client role: the request being answered */
    int cur_exchange;      /* its exchange, -1 none */
    bool req_has_cseq;     /* it carried a CSeq */
    uint32_t req_cseq;     /* that CSeq */
    bool req_has_session;  /* it carried a Session */
    char req_method[24];   /* its method */
    char req_uri[256];     /* its URI */
    bool have_client_cseq; /* a CSeq was seen from the client */
    uint32_t client_cseq;  /* the last one */
    /* session */
    char session[128];   /* {session}: the id, without parameters */
    bool session_set;    /* session holds a value */
    bool session_active; /* a session is established (until a TEARDOWN answered 2xx) */
    /* media */
    int rtp_fd;              /* harness's RTP socket; -1 none */
    int rtcp_fd;             /* harness's RTCP socket; -1 none */
    uint16_t rtp_port;       /* its port (server role: {rtp_port}; client role: {server_rtp_port}) */
    uint16_t rtcp_port;      /* RTCP port */
    uint16_t peer_rtp_port;  /* the SUT's RTP port (server role: server_port; client role: client_port) */
    uint16_t peer_rtcp_port; /* its RTCP port */
    bool interleaved;        /* RTP travels on this connection */
    int channel_rtp;         /* its RTP channel; -1 none */
    int channel_rtcp;        /* its RTCP channel */
    bool transport_known;    /* client role: the client's SETUP gave a transport */
    char control[256];       /* {control}: a=control of the first m= section */
    char track_url[512];     /* {track_url}: control resolved */
    uint64_t rtp_packets;    /* RTP packets received (UDP socket or interleaved channel) */
    uint64_t rtp_bytes;      /* their bytes */
    uint64_t rtcp_packets;   /* RTCP packets received */
    uint64_t other_packets;  /* packets on the RTP sockets the stream does not count
                                     (client role: the client's dummy packets) */
    /* authentication */
    bool chal_given;       /* a challenge is known (server role: received; client role: sent) */
    bool chal_digest;      /* it is Digest */
    char chal_realm[128];  /* its realm */
    char chal_nonce[160];  /* its nonce */
    char chal_opaque[160]; /* its opaque */
    bool chal_qop_auth;    /* it offers qop=auth */
    struct streamer st;    /* `rtp send` */
    int64_t next_rr_ms;    /* server role: when the next RTCP receiver report is due; 0 none yet */
};

/* A captured variable. */
struct var {
    char name[SCENARIO_NAME_MAX]; /* name */
    char *value;                  /* value (malloc) */
};

struct engine {
    const struct scenario *sc;             /* the scenario */
    const struct replay_target *t;         /* where the SUT is */
    const struct replay_hooks *h;          /* callbacks into the run */
    struct replay_result *r;               /* what is recorded */
    size_t fail_cap, ex_cap, win_cap;      /* allocated entries of r's arrays */
    struct conn conns[SCENARIO_MAX_CONNS]; /* connections by slot */
    unsigned n_conns;                      /* slots used */
    int cur;                               /* current connection, -1 none */
    int listen_fd;                         /* client role: listening socket */
    bool want_accept;                      /* a step waits for a connection */
    int accepted_fd;                       /* a connection accepted for that step, -1 none */
    struct sockaddr_in accepted_peer;      /* its peer */
    char host[128];                        /* {host} */
    char port_text[8];                     /* {port} */
    uint16_t port;                         /* the SUT's port (server role) or ours (client role) */
    struct sockaddr_in target;             /* server role: where to connect */
    char seed_text[16];                    /* {seed} */
    char nonce[40];                        /* {nonce} */
    int64_t start_ms;                      /* monotonic scenario start */
    unsigned next_event;                   /* next `at` event to fire */
    int64_t next_sut_check_ms;             /* when hooks->sut_gone is asked next */
    bool sut_dead;                         /* hooks->sut_gone said so */
    bool time_up;                          /* ... and that the scenario must stop (its time is up) */
    char sut_why[160];                     /* its words */
    struct var vars[MAX_VARS];             /* captured variables */
    unsigned n_vars;                       /* entries used */
    uint8_t *media;                        /* `rtp send` media file (malloc) */
    size_t media_len;                      /* its bytes */
    size_t *frame_off;                     /* offset of each JPEG in media */
    size_t *frame_len;                     /* length of each JPEG */
    size_t n_frames;                       /* frames in the media */
    /* the running step */
    const struct scenario_step *step; /* NULL between steps (events, streams) */
    bool step_failed;                 /* the running step recorded a failure */
    bool step_skipped;                /* the running step did not apply (optional mismatch) */
    bool step_took_request;           /* client role: the running `<` step consumed a request */
    bool *exchange_skip;              /* exchanges whose later steps are skipped */
    bool stop;                        /* run no more steps */
    /* server role, lab profile: how requests are written */
    const struct dialect *dialect; /* the run's, the scenario's or own_dialect; NULL other scenarios */
    struct dialect *own_dialect;   /* the compiled-in lab dialect, when neither gave one */
};

/* ---------- results ---------- */

static void *grow(void *arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return arr;
    size_t c = *cap ? *cap * 2 : 16;
    void *p = realloc(arr, c * elem);
    if (!p)
        return NULL;
    memset((char *)p + *cap * elem, 0, (c - *cap) * elem);
    *cap = c;
    return p;
}

static void fail_at(struct engine *e, bool always, const char *check, unsigned line, unsigned col,
                    int exchange, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* Record a failure; during an optional step it only marks the step. A
 * check on @allow is provoked on purpose and not recorded. */
static void fail_at(struct engine *e, bool always, const char *check, unsigned line, unsigned col,
                    int exchange, const char *fmt, ...)
{
    if (scenario_allows(e->sc, check))
        return;
    if (!always) {
        e->step_failed = true;
        if (e->step && e->step->optional)
            return;
    }
    struct replay_result *r = e->r;
    struct replay_failure *f = grow(r->failures, &e->fail_cap, r->n_failures, sizeof *f);
    if (!f)
        return;
    r->failures = f;
    f = &r->failures[r->n_failures++];
    memset(f, 0, sizeof *f);
    snprintf(f->check, sizeof f->check, "%s", check);
    f->line = line;
    f->column = col;
    f->time_ns = real_ns();
    f->exchange = exchange;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof f->message, fmt, ap);
    va_end(ap);
    r->verdict = REPLAY_FAIL;
}

#define FAIL(e, check, line, col, ex, ...) fail_at(e, false, check, line, col, ex, __VA_ARGS__)

static int new_exchange(struct engine *e, unsigned line, const struct conn *c)
{
    struct replay_result *r = e->r;
    struct replay_exchange *x = grow(r->exchanges, &e->ex_cap, r->n_exchanges, sizeof *x);
    if (!x)
        return -1;
    r->exchanges = x;
    x = &r->exchanges[r->n_exchanges];
    memset(x, 0, sizeof *x);
    x->line = line;
    x->conn = c ? c->index : -1;
    if (c) {
        snprintf(x->local, sizeof x->local, "%s", c->local);
        snprintf(x->remote, sizeof x->remote, "%s", c->remote);
    }
    return (int)r->n_exchanges++;
}

static char *copy_bytes(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* First line of a message for messages: up to 100 printable bytes. */
static void first_line(const char *s, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap && k < 100; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r' || c == '\n')
            break;
        out[k++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    out[k] = '\0';
}

static void record_deviations(struct replay_exchange *x, const struct rtsp_msg *m)
{
    size_t k = 0;
    x->deviations[0] = '\0';
    for (size_t i = 0; i < m->deviations.count; i++) {
        const char *name = rtsp_deviation_name(m->deviations.rec[i].kind);
        if (strstr(x->deviations, name))
            continue;
        int n = snprintf(x->deviations + k, sizeof x->deviations - k, "%s%s", k ? "," : "", name);
        if (n < 0 || (size_t)n >= sizeof x->deviations - k)
            break;
        k += (size_t)n;
    }
}

/* ---------- sockets ---------- */

static void addr_text(const struct sockaddr_in *a, char *out, size_t cap)
{
    char ip[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    snprintf(out, cap, "%s:%u", ip, ntohs(a->sin_port));
}

static void conn_names(struct conn *c)
{
    struct sockaddr_in a;
    socklen_t n = sizeof a;
    if (getsockname(c->fd, (struct sockaddr *)&a, &n) == 0)
        addr_text(&a, c->local, sizeof c->local);
    n = sizeof a;
    if (getpeername(c->fd, (struct sockaddr *)&a, &n) == 0) {
        addr_text(&a, c->remote, sizeof c->remote);
        c->peer = a;
    }
}

/* Open an even/odd UDP pair for RTP and RTCP. */
static int open_udp_pair(int *rtp_fd, int *rtcp_fd, uint16_t *rtp_port, char *err, size_t cap)
{
    for (int attempt = 0; attempt < 64; attempt++) {
        int a = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (a < 0)
            break;
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY)};
        socklen_t n = sizeof sa;
        int rcvbuf = 4 << 20;
        setsockopt(a, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
        if (bind(a, (struct sockaddr *)&sa, sizeof sa) < 0 ||
            getsockname(a, (struct sockaddr *)&sa, &n) < 0) {
            close(a);
            break;
        }
        uint16_t port = ntohs(sa.sin_port);
        if (port % 2 != 0 || port == 65534) {
            close(a);
            continue;
        }
        int b = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        sa.sin_port = htons((uint16_t)(port + 1));
        if (b >= 0 && bind(b, (struct sockaddr *)&sa, sizeof sa) == 0) {
            *rtp_fd = a;
            *rtcp_fd = b;
            *rtp_port = port;
            return 0;
        }
        if (b >= 0)
            close(b);
        close(a);
    }
    snprintf(err, cap, "could not open an even/odd UDP port pair: %s", strerror(errno));
    return -1;
}

static int conn_open_media(struct engine *e, struct conn *c)
{
    if (c->rtp_fd >= 0)
        return 0;
    char err[160];
    if (open_udp_pair(&c->rtp_fd, &c->rtcp_fd, &c->rtp_port, err, sizeof err) < 0) {
        fail_at(e, true, "scenario.rtp", e->step ? e->step->line : 0, 0, -1, "%s", err);
        return -1;
    }
    c->rtcp_port = (uint16_t)(c->rtp_port + 1);
    return 0;
}

static void msg_item_free(struct msg_item *m)
{
    free(m->text);
    memset(m, 0, sizeof *m);
}

static void conn_close_fd(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->in_len = 0;
    c->out.off = c->out.len = 0;
    c->idle_parse = false;
    c->pend_len = 0;
    c->st.active = false;
}

static void conn_reset_for_open(struct conn *c, int fd)
{
    conn_close_fd(c);
    while (c->q_len) {
        msg_item_free(&c->q[c->q_head]);
        c->q_head = (c->q_head + 1) % MSGQ;
        c->q_len--;
    }
    c->fd = fd;
    c->used = true;
    c->eof = false;
    c->closed_by_us = false;
    c->write_failed = false;
    c->out_sent = 0;
    c->eof_why[0] = '\0';
    c->local[0] = c->remote[0] = '\0';
    c->last_rx_ms = wire_mono_ms();
    c->cur_exchange = -1;
    c->have_client_cseq = false;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conn_names(c);
}

static struct conn *conn_by_name(struct engine *e, const char *name, bool create)
{
    for (unsigned i = 0; i < e->n_conns; i++)
        if (strcmp(e->conns[i].name, name) == 0)
            return &e->conns[i];
    if (!create || e->n_conns >= SCENARIO_MAX_CONNS)
        return NULL;
    struct conn *c = &e->conns[e->n_conns];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->index = (int)e->n_conns++;
    c->fd = c->rtp_fd = c->rtcp_fd = -1;
    c->next_cseq = 1;
    c->cur_exchange = -1;
    c->channel_rtp = c->channel_rtcp = -1;
    return c;
}

static struct conn *current(struct engine *e)
{
    return e->cur >= 0 ? &e->conns[e->cur] : NULL;
}

/* ---------- input ---------- */

static bool lab(const struct engine *e)
{
    return e->sc->profile == SCENARIO_PROFILE_LAB;
}

static void conn_consume(struct conn *c, size_t n)
{
    if (n >= c->in_len) {
        c->in_len = 0;
        return;
    }
    memmove(c->in, c->in + n, c->in_len - n);
    c->in_len -= n;
}

static void queue_msg(struct conn *c, const char *s, size_t n, const char *error)
{
    struct msg_item *m = &c->q[(c->q_head + c->q_len) % MSGQ];
    memset(m, 0, sizeof *m);
    m->text = copy_bytes(s, n);
    m->len = m->text ? n : 0;
    m->time_ns = real_ns();
    if (error) {
        m->bad = true;
        snprintf(m->error, sizeof m->error, "%s", error);
    }
    c->q_len++;
    c->messages_in++;
}

static void count_interleaved(struct engine *e, struct conn *c, const struct rtsp_interleaved *f)
{
    (void)e;
    if (c->channel_rtp >= 0 && f->channel == c->channel_rtp) {
        c->rtp_packets++;
        c->rtp_bytes += f->len;
    } else if (c->channel_rtcp >= 0 && f->channel == c->channel_rtcp) {
        c->rtcp_packets++;
    } else if (f->channel % 2 == 0) {
        c->rtp_packets++; /* a channel the server chose on its own */
        c->rtp_bytes += f->len;
    } else {
        c->rtcp_packets++;
    }
}

/* When a parse failed at a Content-Length value over BODY_MAX, say how
 * large the announced body is; the parser only says that it is too large. */
static bool body_over_limit(const char *buf, size_t len, size_t at, const char *what, char *why, size_t cap)
{
    static const char name[] = "Content-Length:";
    size_t k = at;
    while (k > 0 && (buf[k - 1] == ' ' || buf[k - 1] == '\t'))
        k--;
    if (at >= len || !isdigit((unsigned char)buf[at]) || k < sizeof name - 1 ||
        strncasecmp(buf + k - (sizeof name - 1), name, sizeof name - 1) != 0)
        return false;
    size_t end = at;
    uint64_t n = 0;
    while (end < len && end - at < 40 && isdigit((unsigned char)buf[end])) {
        if (n <= BODY_MAX) /* past it, only the digits matter */
            n = n * 10 + (uint64_t)(buf[end] - '0');
        end++;
    }
    if (n <= BODY_MAX) /* another complaint about the value (conflicting lengths) */
        return false;
    snprintf(why, cap, "%s body of %.*s bytes (Content-Length at byte %zu) is over the %u MiB limit", what,
             (int)(end - at), buf + at, k - (sizeof name - 1), BODY_MAX >> 20);
    return true;
}

/* Move complete messages and interleaved frames out of the input. at_idle:
 * the peer has gone quiet (or closed), so an unterminated message ends here. */
static void conn_process(struct engine *e, struct conn *c, bool at_idle)
{
    while (c->in_len > 0 && c->q_len < MSGQ) {
        size_t skip = 0;
        enum rtsp_next kind = rtsp_next_kind(c->in, c->in_len, &skip);
        if (kind == RTSP_NEXT_NEED_MORE) {
            if (skip == c->in_len)
                c->in_len = 0;
            break;
        }
        if (kind == RTSP_NEXT_INTERLEAVED) {
            struct rtsp_interleaved f;
            struct wire_error err;
            conn_consume(c, skip);
            int n = rtsp_interleaved_parse(c->in, c->in_len, &f, &err);
            if (n == WIRE_INCOMPLETE)
                break;
            if (n < 0) {
                queue_msg(c, c->in, 1, "not an interleaved frame");
                conn_consume(c, 1);
                continue;
            }
            count_interleaved(e, c, &f);
            conn_consume(c, (size_t)n);
            continue;
        }
        /* The lab's messages end when the peer stops talking. */
        if (lab(e) && !at_idle) {
            c->idle_parse = true;
            break;
        }
        struct rtsp_parse_opts opts = {
            .mode = RTSP_LENIENT,
            .max_header_bytes = HEADER_MAX,
            .max_body_bytes = BODY_MAX,
            .at_idle = at_idle,
        };
        struct rtsp_msg msg;
        struct rtsp_header hdrs[MAX_HDRS];
        struct wire_error err = {0, NULL};
        int n = rtsp_parse(c->in, c->in_len, &opts, &msg, hdrs, MAX_HDRS, &err);
        if (n == WIRE_INCOMPLETE) {
            if (!at_idle && e->sc->role == SCENARIO_ROLE_CLIENT && rtsp_request_looks_lab(c->in, c->in_len))
                c->idle_parse = true; /* lab requests often lack the final blank line */
            if (c->in_len >= IN_MAX) {
                queue_msg(c, c->in, c->in_len, "message larger than 4 MiB");
                c->in_len = 0;
            }
            break;
        }
        if (n < 0) {
            char why[160];
            if (!body_over_limit(c->in, c->in_len, err.offset,
                                 e->sc->role == SCENARIO_ROLE_SERVER ? "reply" : "request", why, sizeof why))
                snprintf(why, sizeof why, "%s at byte %zu", err.reason ? err.reason : "parse error", err.offset);
            size_t next = rtsp_resync(c->in, c->in_len, 0);
            if (next == 0 || next > c->in_len)
                next = c->in_len;
            queue_msg(c, c->in, next, why);
            conn_consume(c, next);
            continue;
        }
        queue_msg(c, c->in, (size_t)n, NULL);
        conn_consume(c, (size_t)n);
    }
    if (c->in_len == 0)
        c->idle_parse = false;
}

static void conn_read(struct engine *e, struct conn *c)
{
    for (int rounds = 0; rounds < 64 && c->fd >= 0 && !c->eof; rounds++) {
        if (c->in_cap - c->in_len < 65536) {
            size_t cap = c->in_cap ? c->in_cap * 2 : 131072;
            if (cap > IN_MAX + 131072)
                cap = IN_MAX + 131072;
            if (cap <= c->in_cap) {
                conn_process(e, c, false);
                if (c->in_cap - c->in_len < 4096)
                    return; /* full: the queue must drain first */
            } else {
                char *p = realloc(c->in, cap);
                if (!p)
                    return;
                c->in = p;
                c->in_cap = cap;
            }
        }
        ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
        if (n > 0) {
            c->in_len += (size_t)n;
            c->last_rx_ms = wire_mono_ms();
            conn_process(e, c, false);
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            snprintf(c->eof_why, sizeof c->eof_why, "%s",
                     n == 0 ? "the peer closed the connection" : strerror(errno));
            c->eof = true;
            conn_process(e, c, true);
        }
        return;
    }
}

static void conn_flush(struct conn *c)
{
    if (c->fd < 0 || c->write_failed || !outbuf_pending(&c->out))
        return;
    size_t before = outbuf_pending(&c->out);
    int rc = outbuf_send(&c->out, c->fd);
    c->out_sent += before - outbuf_pending(&c->out);
    if (rc < 0) {
        c->write_failed = true;
        snprintf(c->eof_why, sizeof c->eof_why, "write failed: %s", strerror(errno));
        c->eof = true;
    }
}

static int conn_queue_out(struct conn *c, const void *data, size_t len)
{
    return outbuf_append(&c->out, data, len, OUT_MAX) ? 0 : -1;
}

static void drain_udp(struct conn *c, int fd, bool rtp)
{
    uint8_t buf[65536];
    for (int i = 0; i < 256; i++) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0)
            return;
        if (!rtp) {
            c->rtcp_packets++;
        } else if (c->st.active || c->st.frames_sent) {
            c->other_packets++; /* client role: the client's own packets to our RTP port */
        } else {
            c->rtp_packets++;
            c->rtp_bytes += (uint64_t)n;
        }
    }
}

/* ---------- RTCP receiver reports (server role) ---------- */

#define RR_INTERVAL_MS 1000 /* RFC 3550 6.2 allows less than 5 s for small sessions */

/* A receiving client reports back (RFC 3550 6.4.2) as real clients do
 * (ffmpeg, GStreamer, live555): servers take these reports as a sign of
 * life and keep the session (RFC 2326 12.37), so a long `rtp for` window
 * does not outlast a short session timeout. Sent once RTP has arrived on
 * the connection's stream, every RR_INTERVAL_MS: an RR with no report
 * block and an SDES CNAME, to the server's RTCP port or on the
 * interleaved RTCP channel. The lab's clients send none, so neither does
 * the lab profile. */
static void rr_tick(struct engine *e, struct conn *c, int64_t now_ms)
{
    if (e->sc->role != SCENARIO_ROLE_SERVER || lab(e) || c->fd < 0 || c->eof || !c->rtp_packets)
        return;
    bool udp = c->rtcp_fd >= 0 && c->peer_rtcp_port;
    bool tcp = c->interleaved && c->channel_rtcp >= 0;
    if (!udp && !tcp)
        return;
    if (c->next_rr_ms == 0)
        c->next_rr_ms = now_ms; /* the first as soon as the stream is there */
    if (now_ms < c->next_rr_ms)
        return;
    c->next_rr_ms = now_ms + RR_INTERVAL_MS;
    uint8_t pkt[4 + 128];
    struct rtcp_builder b;
    struct wire_error err;
    uint32_t ssrc = (uint32_t)mix64(e->t->seed ^ 0x7EC0ull ^ (uint64_t)c->index);
    rtcp_builder_init(&b, pkt + 4, sizeof pkt - 4);
    static const char cname[] = "rtsp-harness@" "peer";
    if (rtcp_add_rr(&b, ssrc, NULL, 0, &err) < 0 ||
        rtcp_add_sdes_cname(&b, ssrc, (struct wire_str){cname, sizeof cname - 1}, &err) < 0)
        return;
    if (udp) {
        struct sockaddr_in to = c->peer;
        to.sin_port = htons(c->peer_rtcp_port);
        sendto(c->rtcp_fd, pkt + 4, b.len, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof to);
    } else {
        pkt[0] = '$';
        pkt[1] = (uint8_t)c->channel_rtcp;
        wire_put_be16(pkt + 2, (uint16_t)b.len);
        if (conn_queue_out(c, pkt, b.len + 4) == 0)
            conn_flush(c);
    }
}

/* ---------- streaming (`rtp send`) ---------- */

static void stream_frame(struct engine *e, struct conn *c)
{
    struct streamer *s = &c->st;
    if (e->n_frames == 0)
        return;
    const uint8_t *jpeg = e->media + e->frame_off[s->frame];
    size_t jlen = e->frame_len[s->frame];
    s->frame = (s->frame + 1) % e->n_frames;
    uint32_t ts = s->ts_base + (uint32_t)((double)s->frames_sent * 90000.0 / s->fps);
    s->frames_sent++;
    uint8_t pkt[4 + RTP_HEADER_MIN + LAB_MAX_DATAGRAM];
    struct wire_error err;
    struct rtp_header h = {.version = 2, .payload_type = 26, .timestamp = ts, .ssrc = s->ssrc};

    if (lab(e)) {
        /* The lab's format: the whole JPEG in one packet, seq = frame number. */
        if (jlen > LAB_MAX_DATAGRAM - RTP_HEADER_MIN) {
            s->dropped++;
            return;
        }
        h.seq = s->seq++;
        int n = rtp_build(&h, jpeg, jlen, pkt + 4, sizeof pkt - 4, &err);
        if (n < 0)
            return;
        if (c->interleaved) {
            pkt[0] = '$';
            pkt[1] = (uint8_t)c->channel_rtp;
            wire_put_be16(pkt + 2, (uint16_t)n);
            if (conn_queue_out(c, pkt, (size_t)n + 4) < 0)
                s->dropped++;
        } else {
            struct sockaddr_in to = c->peer;
            to.sin_port = htons(c->peer_rtp_port);
            if (sendto(c->rtp_fd, pkt + 4, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof to) < 0)
                s->dropped++;
        }
        s->packets++;
        s->bytes += (uint64_t)n;
        e->r->rtp_sent_packets++;
        return;
    }
    struct rtpjpeg_packetizer p;
    struct rtpjpeg_options opts = {.max_payload = RTP_MAX_PAYLOAD, .q = 255};
    if (rtpjpeg_packetizer_init(&p, jpeg, jlen, &opts, &err) < 0) {
        if (!s->warned)
            fail_at(e, true, "scenario.rtp", 0, 0, -1,
                    "rtp send: frame %zu of %s cannot travel as RTP/JPEG: %s",
                    (s->frame + e->n_frames - 1) % e->n_frames, e->t->media_file, err.reason);
        s->warned = true;
        s->dropped++;
        return;
    }
    uint8_t payload[RTP_MAX_PAYLOAD];
    size_t plen;
    bool last;
    while (rtpjpeg_packetizer_next(&p, payload, sizeof payload, &plen, &last, &err) == 1) {
        h.seq = s->seq++;
        h.marker = last;
        int n = rtp_build(&h, payload, plen, pkt + 4, sizeof pkt - 4, &err);
        if (n < 0)
            break;
        if (c->interleaved) {
            pkt[0] = '$';
            pkt[1] = (uint8_t)c->channel_rtp;
            wire_put_be16(pkt + 2, (uint16_t)n);
            if (conn_queue_out(c, pkt, (size_t)n + 4) < 0) {
                s->dropped++;
                continue;
            }
        } else {
            struct sockaddr_in to = c->peer;
            to.sin_port = htons(c->peer_rtp_port);
            if (sendto(c->rtp_fd, pkt + 4, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof to) < 0) {
                s->dropped++;
                continue;
            }
        }
        s->packets++;
        s->bytes += (uint64_t)n;
        e->r->rtp_sent_packets++;
    }
    if (c->interleaved)
        conn_flush(c);
}

static int64_t stream_due_us(const struct streamer *s)
{
    return s->t0_us + (int64_t)((double)s->k * 1e6 / s->fps);
}

static void stream_tick(struct engine *e, struct conn *c)
{
    struct streamer *s = &c->st;
    if (!s->active || c->fd < 0 || c->eof)
        return;
    int64_t now = mono_us();
    /* Far behind (the loop was busy): start a new schedule rather than burst. */
    if (now - stream_due_us(s) > 1000000) {
        s->t0_us = now;
        s->k = 0;
    }
    for (int burst = 0; burst < 4 && now >= stream_due_us(s); burst++) {
        stream_frame(e, c);
        s->k++;
    }
}

/* ---------- the loop ---------- */

static void fire_events(struct engine *e)
{
    const struct scenario *sc = e->sc;
    int64_t t = wire_mono_ms() - e->start_ms;
    while (e->next_event < sc->n_events && sc->events[e->next_event].at_ms <= t) {
        const struct scenario_event *ev = &sc->events[e->next_event++];
        e->r->events_fired++;
        if (!e->h || !e->h->event)
            continue;
        char err[256] = "";
        if (e->h->event(e->h->ctx, ev, err, sizeof err) < 0)
            fail_at(e, true, "scenario.event", ev->line, ev->column, -1,
                    "the event at %lld ms could not be applied: %s", (long long)ev->at_ms,
                    err[0] ? err : "no reason given");
    }
}

static void check_sut(struct engine *e, bool force)
{
    if (e->sut_dead || !e->h || !e->h->sut_gone)
        return;
    int64_t now = wire_mono_ms();
    if (!force && now < e->next_sut_check_ms)
        return;
    e->next_sut_check_ms = now + SUT_POLL_MS;
    char why[160] = "";
    int gone = e->h->sut_gone(e->h->ctx, why, sizeof why);
    if (gone >= 1) {
        e->sut_dead = true;
        e->time_up = gone == 2;
        snprintf(e->sut_why, sizeof e->sut_why, "%s", why[0] ? why : "the system under test is no longer running");
    }
}

/* One round of I/O and timers, waiting at most until deadline_ms. */
static void service(struct engine *e, int64_t deadline_ms)
{
    struct pollfd pfd[3 * SCENARIO_MAX_CONNS + 1];
    struct {
        struct conn *c; /* owner */
        int what;       /* 0 RTSP, 1 RTP, 2 RTCP, 3 listen */
    } who[3 * SCENARIO_MAX_CONNS + 1];
    nfds_t n = 0;
    int64_t now = wire_mono_ms();
    int64_t wake = deadline_ms;
    for (unsigned i = 0; i < e->n_conns; i++) {
        struct conn *c = &e->conns[i];
        if (c->fd >= 0 && (!c->eof || outbuf_pending(&c->out))) {
            short ev = 0;
            if (!c->eof && c->in_len < IN_MAX)
                ev |= POLLIN;
            if (outbuf_pending(&c->out) && !c->write_failed)
                ev |= POLLOUT;
            pfd[n] = (struct pollfd){.fd = c->fd, .events = ev};
            who[n].c = c;
            who[n++].what = 0;
            if (c->idle_parse && c->q_len < MSGQ && c->last_rx_ms + LAB_IDLE_MS < wake)
                wake = c->last_rx_ms + LAB_IDLE_MS;
        }
        if (c->rtp_fd >= 0) {
            pfd[n] = (struct pollfd){.fd = c->rtp_fd, .events = POLLIN};
            who[n].c = c;
            who[n++].what = 1;
            pfd[n] = (struct pollfd){.fd = c->rtcp_fd, .events = POLLIN};
            who[n].c = c;
            who[n++].what = 2;
        }
        if (c->st.active) {
            int64_t due = (stream_due_us(&c->st) + 999) / 1000;
            if (due < wake)
                wake = due;
        }
        if (c->next_rr_ms && c->next_rr_ms < wake)
            wake = c->next_rr_ms;
    }
    if (e->listen_fd >= 0 && e->want_accept && e->accepted_fd < 0) {
        pfd[n] = (struct pollfd){.fd = e->listen_fd, .events = POLLIN};
        who[n].c = NULL;
        who[n++].what = 3;
    }
    if (e->next_event < e->sc->n_events) {
        int64_t due = e->start_ms + e->sc->events[e->next_event].at_ms;
        if (due < wake)
            wake = due;
    }
    if (e->h && e->h->sut_gone && !e->sut_dead && e->next_sut_check_ms < wake)
        wake = e->next_sut_check_ms;
    int timeout = wake > now ? (int)(wake - now) : 0;
    if (timeout > 1000)
        timeout = 1000;
    int rc = poll(pfd, n, timeout);
    if (rc > 0) {
        for (nfds_t i = 0; i < n; i++) {
            if (!pfd[i].revents)
                continue;
            struct conn *c = who[i].c;
            switch (who[i].what) {
            case 0:
                if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
                    conn_read(e, c);
                if (pfd[i].revents & POLLOUT)
                    conn_flush(c);
                break;
            case 1: drain_udp(c, c->rtp_fd, true); break;
            case 2: drain_udp(c, c->rtcp_fd, false); break;
            case 3: {
                struct sockaddr_in a;
                socklen_t al = sizeof a;
                int fd = accept4(e->listen_fd, (struct sockaddr *)&a, &al, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd >= 0) {
                    e->accepted_fd = fd;
                    e->accepted_peer = a;
                }
                break;
            }
            }
        }
    }
    now = wire_mono_ms();
    for (unsigned i = 0; i < e->n_conns; i++) {
        struct conn *c = &e->conns[i];
        if (c->fd >= 0 && c->idle_parse && c->q_len < MSGQ && now - c->last_rx_ms >= LAB_IDLE_MS)
            conn_process(e, c, true);
        if (c->st.active)
            stream_tick(e, c);
        rr_tick(e, c, now);
        if (c->fd >= 0 && outbuf_pending(&c->out))
            conn_flush(c);
    }
    fire_events(e);
    check_sut(e, false);
}

/* Service until the deadline passes (a `wait`), or until the SUT is gone
 * or the scenario's time is up: nothing can come any more, and a long wait
 * must not outlast --scenario-timeout. */
static void service_until(struct engine *e, int64_t deadline_ms)
{
    while (wire_mono_ms() < deadline_ms && !e->sut_dead)
        service(e, deadline_ms);
}

/* ---------- variables ---------- */

static const char *var_get(const struct engine *e, const char *name, size_t n)
{
    for (unsigned i = 0; i < e->n_vars; i++)
        if (strlen(e->vars[i].name) == n && memcmp(e->vars[i].name, name, n) == 0)
            return e->vars[i].value;
    return NULL;
}

static bool name_is(const char *name, size_t n, const char *w)
{
    return strlen(w) == n && memcmp(name, w, n) == 0;
}

/* Store a capture. Session, control and track_url belong to the connection. */
static void var_set(struct engine *e, struct conn *c, const char *name, const char *value, size_t vlen)
{
    size_t n = strlen(name);
    if (c && name_is(name, n, "session")) {
        snprintf(c->session, sizeof c->session, "%.*s", (int)vlen, value);
        c->session_set = c->session_active = true;
        snprintf(e->r->session, sizeof e->r->session, "%s", c->session);
        return;
    }
    if (c && name_is(name, n, "control")) {
        snprintf(c->control, sizeof c->control, "%.*s", (int)vlen, value);
        return;
    }
    if (c && name_is(name, n, "track_url")) {
        snprintf(c->track_url, sizeof c->track_url, "%.*s", (int)vlen, value);
        return;
    }
    for (unsigned i = 0; i < e->n_vars; i++)
        if (strcmp(e->vars[i].name, name) == 0) {
            char *v = copy_bytes(value, vlen);
            if (v) {
                free(e->vars[i].value);
                e->vars[i].value = v;
            }
            return;
        }
    if (e->n_vars >= MAX_VARS)
        return;
    char *v = copy_bytes(value, vlen);
    if (!v)
        return;
    snprintf(e->vars[e->n_vars].name, sizeof e->vars[e->n_vars].name, "%s", name);
    e->vars[e->n_vars++].value = v;
}

/* Context of a lookup: the connection and the message being built or matched. */
struct lookup_ctx {
    struct engine *e;   /* engine */
    struct conn *c;     /* connection, may be NULL */
    bool has_cseq;      /* {cseq} has a value */
    uint32_t cseq;      /* its value */
    const char *method; /* {digest:...}: the request's method */
    const char *uri;    /* {digest:...}: the request's URI */
    char tmp[2048];     /* storage for computed values */
};

/* RFC 2617 3.2.2 request-digest (MD5); qop "auth" or NULL for RFC 2069. */
static void digest_response(const char *user, const char *realm, const char *pass, const char *method,
                            const char *uri, const char *nonce, const char *qop, const char *nc,
                            const char *cnonce, char out[AUTH_DIGEST_HEX_LEN + 1])
{
#define WS(x) ((struct wire_str){(x), strlen(x)})
    struct auth_digest_input in = {
        .user = WS(user), .realm = WS(realm), .password = WS(pass), .method = WS(method),
        .uri = WS(uri), .nonce = WS(nonce), .qop = qop ? WS(qop) : (struct wire_str){NULL, 0},
        .nc = WS(nc), .cnonce = WS(cnonce),
    };
#undef WS
    auth_digest_response(&in, out);
}

static void base64(const uint8_t *in, size_t n, char *out, size_t cap)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t k = 0;
    for (size_t i = 0; i < n && k + 5 < cap; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[k++] = tab[(v >> 18) & 63];
        out[k++] = tab[(v >> 12) & 63];
        out[k++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[k++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[k] = '\0';
}

static int lookup(void *ctx, const char *name, size_t n, const char **value, size_t *vlen)
{
    struct lookup_ctx *lk = ctx;
    struct engine *e = lk->e;
    struct conn *c = lk->c;
    const struct scenario *sc = e->sc;
    const char *v = NULL;
    size_t colon = 0;
    while (colon < n && name[colon] != ':')
        colon++;
    if (colon < n) {
        /* {basic:user:password} and {digest:user:password} */
        const char *args = name + colon + 1;
        size_t an = n - colon - 1, uc = 0;
        while (uc < an && args[uc] != ':')
            uc++;
        if (uc >= an)
            return -1;
        char user[256], pass[256];
        snprintf(user, sizeof user, "%.*s", (int)uc, args);
        snprintf(pass, sizeof pass, "%.*s", (int)(an - uc - 1), args + uc + 1);
        if (name_is(name, colon, "basic")) {
            char raw[600];
            int rn = snprintf(raw, sizeof raw, "%s:%s", user, pass);
            char b64[900];
            base64((const uint8_t *)raw, rn < 0 ? 0 : (size_t)rn, b64, sizeof b64);
            snprintf(lk->tmp, sizeof lk->tmp, "Basic %s", b64);
        } else if (name_is(name, colon, "digest")) {
            if (!c || !c->chal_given || !c->chal_digest || !lk->method || !lk->uri)
                return 1; /* no Digest challenge received yet */
            char resp[33];
            const char *nc = "00000001";
            char cnonce[17];
            snprintf(cnonce, sizeof cnonce, "%016llx", (unsigned long long)mix64(e->t->seed ^ 0xC0FFEEull));
            digest_response(user, c->chal_realm, pass, lk->method, lk->uri, c->chal_nonce,
                            c->chal_qop_auth ? "auth" : NULL, nc, cnonce, resp);
            int k = snprintf(
                lk->tmp, sizeof lk->tmp,
                "Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", response=\"%s\", algorithm=MD5",
                user, c->chal_realm, c->chal_nonce, lk->uri, resp);
            if (k > 0 && (size_t)k < sizeof lk->tmp && c->chal_qop_auth)
                k += snprintf(lk->tmp + k, sizeof lk->tmp - (size_t)k, ", qop=auth, nc=%s, cnonce=\"%s\"", nc,
                              cnonce);
            if (k > 0 && (size_t)k < sizeof lk->tmp && c->chal_opaque[0])
                snprintf(lk->tmp + k, sizeof lk->tmp - (size_t)k, ", opaque=\"%s\"", c->chal_opaque);
        } else {
            return -1;
        }
        *value = lk->tmp;
        *vlen = strlen(lk->tmp);
        return 0;
    }
    bool server = sc->role == SCENARIO_ROLE_SERVER;
    /* Captures of learned names replace the learned value. */
    if (!name_is(name, n, "session") && !name_is(name, n, "control") && !name_is(name, n, "track_url")) {
        v = var_get(e, name, n);
        if (v) {
            *value = v;
            *vlen = strlen(v);
            return 0;
        }
    }
    if (name_is(name, n, "url"))
        v = e->r->url;
    else if (name_is(name, n, "host"))
        v = e->host;
    else if (name_is(name, n, "port"))
        v = e->port_text;
    else if (name_is(name, n, "media"))
        v = e->t->media ? e->t->media : "";
    else if (name_is(name, n, "seed"))
        v = e->seed_text;
    else if (name_is(name, n, "nonce"))
        v = e->nonce;
    else if (name_is(name, n, "cseq")) {
        if (!lk->has_cseq)
            return 1;
        snprintf(lk->tmp, sizeof lk->tmp, "%u", lk->cseq);
        v = lk->tmp;
    } else if (name_is(name, n, "session")) {
        if (!c || !c->session_set)
            return 1;
        v = c->session;
    } else if (name_is(name, n, "control")) {
        if (!c || !c->control[0])
            return 1;
        v = c->control;
    } else if (name_is(name, n, "track_url")) {
        if (!c || !c->track_url[0])
            return 1;
        v = c->track_url;
    } else if (name_is(name, n, "rtp_port") || name_is(name, n, "rtcp_port") ||
               name_is(name, n, "server_rtp_port") || name_is(name, n, "server_rtcp_port")) {
        bool rtcp = name_is(name, n, "rtcp_port") || name_is(name, n, "server_rtcp_port");
        bool server_side = name_is(name, n, "server_rtp_port") || name_is(name, n, "server_rtcp_port");
        uint16_t port;
        if (!c)
            return 1;
        if (server == server_side) {
            /* the SUT's ports: from its Transport */
            port = rtcp ? c->peer_rtcp_port : c->peer_rtp_port;
        } else {
            /* the harness's own ports: opened on first use */
            if (conn_open_media(e, c) < 0)
                return 1;
            port = rtcp ? c->rtcp_port : c->rtp_port;
        }
        if (!port)
            return 1;
        snprintf(lk->tmp, sizeof lk->tmp, "%u", port);
        v = lk->tmp;
    } else {
        /* The parser let only built-ins and captured names through: this
         * one is a capture that has not happened (its step was skipped). */
        return 1;
    }
    *value = v;
    *vlen = strlen(v);
    return 0;
}

/* Expand a template; a failure is recorded at the template's position. */
static int expand(struct lookup_ctx *lk, const char *tpl, enum scenario_tpl_mode mode, unsigned line,
                  unsigned col, struct scenario_buf *out)
{
    size_t off = 0;
    const char *why = NULL;
    char bad[80];
    if (scenario_expand(tpl, strlen(tpl), mode, lookup, lk, out, &off, &why, bad, sizeof bad) == 0)
        return 0;
    if (why && strcmp(why, "variable not set") == 0) {
        const char *hint = "";
        if (strcmp(bad, "session") == 0)
            hint = " (no reply carried a Session yet)";
        else if (strcmp(bad, "control") == 0 || strcmp(bad, "track_url") == 0)
            hint = " (no DESCRIBE reply gave an a=control)";
        else if (strncmp(bad, "digest:", 7) == 0)
            hint = " (no 401 with a Digest challenge on this connection yet)";
        else if (strstr(bad, "port"))
            hint = " (no SETUP has negotiated it yet)";
        else if (strcmp(bad, "cseq") == 0)
            hint = " (no request on this connection)";
        else
            hint = " (the step that captures it was skipped or failed)";
        FAIL(lk->e, "scenario.variable", line, col + (unsigned)off, -1, "variable {%s} is not set%s", bad,
             hint);
    } else {
        FAIL(lk->e, "scenario.variable", line, col + (unsigned)off, -1,
             "cannot expand the template: %s%s%s%s", why ? why : "error", bad[0] ? " {" : "", bad,
             bad[0] ? "}" : "");
    }
    return -1;
}

/* ---------- connecting and accepting ---------- */

/* Wait for a step's condition with deadline and SUT polling. The
 * predicate is re-evaluated after each round. Returns 1 when it holds, 0
 * at the deadline, -1 when the SUT died (after a last drain). */
static int wait_for(struct engine *e, int64_t deadline_ms, bool (*pred)(struct engine *, void *), void *arg)
{
    for (;;) {
        if (pred(e, arg))
            return 1;
        if (e->sut_dead) {
            service(e, wire_mono_ms()); /* whatever it wrote before dying */
            return pred(e, arg) ? 1 : -1;
        }
        if (wire_mono_ms() >= deadline_ms)
            return 0;
        service(e, deadline_ms);
    }
}

static int64_t step_deadline(const struct engine *e, const struct scenario_step *st)
{
    return wire_mono_ms() + (st->timeout_ms > 0 ? st->timeout_ms : e->sc->timeout_ms);
}

static int64_t step_timeout(const struct engine *e, const struct scenario_step *st)
{
    return st->timeout_ms > 0 ? st->timeout_ms : e->sc->timeout_ms;
}

/* A dead SUT, or a scenario whose time is up or whose run was interrupted,
 * fails the scenario even in an optional step: nothing after it can run. */
static void sut_exited(struct engine *e, const struct scenario_step *st, const char *waiting)
{
    fail_at(e, true, e->time_up ? "scenario.stopped" : "scenario.sut-exited", st->line, st->column, -1,
            "%s while %s", e->sut_why, waiting);
    e->step_failed = true;
    e->stop = true;
}

static int do_connect(struct engine *e, const struct scenario_step *st, const char *name)
{
    struct conn *c = conn_by_name(e, name, true);
    if (!c) {
        FAIL(e, "scenario.connect", st->line, st->column, -1, "more than %d connections", SCENARIO_MAX_CONNS);
        return -1;
    }
    int64_t deadline = step_deadline(e, st);
    char last_err[128] = "";
    for (;;) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            FAIL(e, "scenario.connect", st->line, st->column, -1, "socket: %s", strerror(errno));
            return -1;
        }
        int rc = connect(fd, (struct sockaddr *)&e->target, sizeof e->target);
        int err = rc == 0 ? 0 : errno;
        if (rc < 0 && err == EINPROGRESS) {
            /* wait for the handshake while the loop keeps running */
            for (;;) {
                struct pollfd p = {.fd = fd, .events = POLLOUT};
                int64_t now = wire_mono_ms();
                if (now >= deadline) {
                    err = ETIMEDOUT;
                    break;
                }
                int pr = poll(&p, 1, (int)((deadline - now) > 50 ? 50 : deadline - now));
                if (pr > 0) {
                    socklen_t l = sizeof err;
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
                    break;
                }
                service(e, wire_mono_ms());
            }
        }
        if (err == 0) {
            conn_reset_for_open(c, fd);
            e->cur = c->index;
            return 0;
        }
        close(fd);
        snprintf(last_err, sizeof last_err, "%s", strerror(err));
        check_sut(e, true);
        if (e->sut_dead) {
            sut_exited(e, st, "connecting");
            return -1;
        }
        if ((err != ECONNREFUSED && err != ECONNRESET) || wire_mono_ms() + CONNECT_RETRY_MS >= deadline)
            break;
        service_until(e, wire_mono_ms() + CONNECT_RETRY_MS);
    }
    char where[64];
    addr_text(&e->target, where, sizeof where);
    FAIL(e, "scenario.connect", st->line, st->column, -1, "expected to connect to %s within %lld ms, got: %s",
         where, (long long)step_timeout(e, st), last_err);
    return -1;
}

static bool pred_accepted(struct engine *e, void *arg)
{
    (void)arg;
    return e->accepted_fd >= 0;
}

static int do_accept(struct engine *e, const struct scenario_step *st, const char *name,
                     const char *waiting_for)
{
    struct conn *c = conn_by_name(e, name, true);
    if (!c) {
        FAIL(e, "scenario.connect", st->line, st->column, -1, "more than %d connections", SCENARIO_MAX_CONNS);
        return -1;
    }
    e->want_accept = true;
    int w = wait_for(e, step_deadline(e, st), pred_accepted, NULL);
    e->want_accept = false;
    if (w <= 0) {
        if (w < 0)
            sut_exited(e, st, "waiting for it to connect");
        else
            FAIL(e, "scenario.timeout", st->line, st->column, -1,
                 "expected the client to connect within %lld ms%s%s, got no connection",
                 (long long)step_timeout(e, st), waiting_for ? " and send " : "",
                 waiting_for ? waiting_for : "");
        return -1;
    }
    conn_reset_for_open(c, e->accepted_fd);
    e->accepted_fd = -1;
    e->cur = c->index;
    return 0;
}

/* The connection a message step uses, opening it when needed. */
static struct conn *message_conn(struct engine *e, const struct scenario_step *st, const char *waiting_for)
{
    struct conn *c = current(e);
    bool server = e->sc->role == SCENARIO_ROLE_SERVER;
    if (c && c->fd >= 0) {
        /* client role: a client that closed its connection may come back on a new one */
        if (!server && c->eof && c->q_len == 0 && st->kind == SCENARIO_STEP_EXPECT) {
            conn_process(e, c, true);
            if (c->q_len == 0)
                return do_accept(e, st, c->name, waiting_for) == 0 ? current(e) : NULL;
        }
        return c;
    }
    if (c && c->used && !c->closed_by_us) {
        FAIL(e, "scenario.closed", st->line, st->column, -1, "the connection '%s' is closed (%s)", c->name,
             c->eof_why[0] ? c->eof_why : "closed");
        return NULL;
    }
    const char *name = c ? c->name : "main";
    if (server) {
        if (st->kind != SCENARIO_STEP_SEND) {
            FAIL(e, "scenario.connect", st->line, st->column, -1,
                 "no connection: nothing was sent to expect a reply to");
            return NULL;
        }
        return do_connect(e, st, name) == 0 ? current(e) : NULL;
    }
    if (st->kind != SCENARIO_STEP_EXPECT) {
        FAIL(e, "scenario.connect", st->line, st->column, -1,
             "no connection: no request arrived to reply to");
        return NULL;
    }
    return do_accept(e, st, name, waiting_for) == 0 ? current(e) : NULL;
}

/* ---------- building messages ---------- */

static bool header_named(const struct scenario_send *s, const char *name, bool *suppressed)
{
    bool found = false;
    *suppressed = false;
    for (unsigned i = 0; i < s->n_headers; i++)
        if (strcasecmp(s->headers[i].name, name) == 0) {
            if (s->headers[i].value)
                found = true;
            else
                *suppressed = true;
        }
    return found;
}

static int add_line(struct scenario_buf *b, const char *eol, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int add_line(struct scenario_buf *b, const char *eol, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return -1;
    if (b->len && scenario_buf_add(b, eol, strlen(eol)) < 0)
        return -1;
    return scenario_buf_add(b, tmp, (size_t)n);
}

/* Append "\n"-separated body lines with the profile's line end after each. */
static int add_body(struct scenario_buf *out, const char *body, size_t len, const char *eol)
{
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(body + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - body) : len;
        if (scenario_buf_add(out, body + i, e - i) < 0 || scenario_buf_add(out, eol, strlen(eol)) < 0)
            return -1;
        i = e + 1;
    }
    return 0;
}

static void split_words(const char *s, char *w1, size_t c1, char *w2, size_t c2)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t k = 0;
    while (*s && *s != ' ' && *s != '\t') {
        if (k + 1 < c1)
            w1[k++] = *s;
        s++;
    }
    w1[k] = '\0';
    while (*s == ' ' || *s == '\t')
        s++;
    k = 0;
    while (*s && *s != ' ' && *s != '\t') {
        if (k + 1 < c2)
            w2[k++] = *s;
        s++;
    }
    w2[k] = '\0';
}

/* Remember a WWW-Authenticate challenge (server role: received; client role: sent). */
static void note_challenge(struct conn *c, struct wire_str value)
{
    struct wire_str rest = value;
    bool have = false;
    while (rest.len > 0) {
        struct rtsp_challenge ch;
        struct wire_error err;
        int n = rtsp_parse_www_authenticate(rest, &ch, &err);
        if (n <= 0)
            break;
        /* Digest wins over Basic when a server offers both. */
        if (!have || ch.scheme == RTSP_AUTH_DIGEST) {
            c->chal_given = true;
            c->chal_digest = ch.scheme == RTSP_AUTH_DIGEST;
            c->chal_realm[0] = c->chal_nonce[0] = c->chal_opaque[0] = '\0';
            if (ch.realm.ptr)
                rtsp_unquote(ch.realm, c->chal_realm, sizeof c->chal_realm);
            if (ch.nonce.ptr)
                rtsp_unquote(ch.nonce, c->chal_nonce, sizeof c->chal_nonce);
            if (ch.opaque.ptr)
                rtsp_unquote(ch.opaque, c->chal_opaque, sizeof c->chal_opaque);
            c->chal_qop_auth =
                ch.qop.ptr && ch.qop.len >= 4 && memmem(ch.qop.ptr, ch.qop.len, "auth", 4) != NULL;
            have = true;
        }
        rest.ptr += n;
        rest.len -= (size_t)n;
    }
}

/* Build a request (server role) or a reply (client role) from a `>` block;
 * requests of the lab profile come from the dialect (build_dialect_request). */
static int build_message(struct engine *e, struct conn *c, const struct scenario_step *st,
                         struct lookup_ctx *lk, struct scenario_buf *out, char *method, size_t mcap,
                         char *uri, size_t ucap)
{
    const struct scenario *sc = e->sc;
    const struct scenario_send *s = &st->send;
    bool server = sc->role == SCENARIO_ROLE_SERVER;
    const char *eol = lab(e) ? "\n" : "\r\n";
    struct scenario_buf start = {0};
    if (expand(lk, s->start_line, SCENARIO_TPL_TEXT, st->line, s->start_column, &start) < 0) {
        free(start.buf);
        return -1;
    }
    split_words(start.buf, method, mcap, uri, ucap);
    bool sup_cseq, sup_session, sup_transport, sup_clen;
    bool has_cseq = header_named(s, "CSeq", &sup_cseq);
    bool has_session = header_named(s, "Session", &sup_session);
    bool has_transport = header_named(s, "Transport", &sup_transport);
    bool has_clen = header_named(s, "Content-Length", &sup_clen);
    int rc = -1;

    if (server) {
        lk->has_cseq = true;
        lk->cseq = c->next_cseq++;
        lk->method = method;
        lk->uri = uri;
        if (scenario_buf_add(out, start.buf, start.len) < 0)
            goto out;
        if (!has_cseq && !sup_cseq && add_line(out, eol, "CSeq: %u", lk->cseq) < 0)
            goto out;
        bool setup = strcmp(method, "SETUP") == 0;
        if (!has_session && !sup_session && c->session_active && strcmp(method, "DESCRIBE") != 0 &&
            add_line(out, eol, "Session: %s", c->session) < 0)
            goto out;
        if (setup && !has_transport && !sup_transport) {
            if (sc->transport == SCENARIO_TRANSPORT_TCP) {
                if (add_line(out, eol, "Transport: RTP/AVP/TCP;unicast;interleaved=%d-%d", c->next_channel,
                             c->next_channel + 1) < 0)
                    goto out;
                c->interleaved = true;
                c->channel_rtp = c->next_channel;
                c->channel_rtcp = c->next_channel + 1;
                c->next_channel += 2;
            } else {
                if (conn_open_media(e, c) < 0 ||
                    add_line(out, eol, "Transport: RTP/AVP;unicast;client_port=%u-%u", c->rtp_port,
                             c->rtcp_port) < 0)
                    goto out;
            }
        }
    } else {
        int code = 0;
        char w1[32], w2[16];
        split_words(start.buf, w1, sizeof w1, w2, sizeof w2);
        code = atoi(w2);
        lk->has_cseq = c->req_has_cseq;
        lk->cseq = c->req_cseq;
        /* A status line without a reason phrase gets the standard one. */
        bool has_reason = false;
        {
            const char *p = start.buf;
            int words = 0;
            bool in = false;
            for (; *p; p++) {
                bool sp = *p == ' ' || *p == '\t';
                if (!sp && !in)
                    words++;
                in = !sp;
            }
            has_reason = words >= 3;
        }
        if (scenario_buf_add(out, start.buf, start.len) < 0)
            goto out;
        if (!has_reason) {
            const char *reason = rtsp_status_reason(code);
            if (scenario_buf_add(out, " ", 1) < 0 ||
                scenario_buf_add(out, reason ? reason : "Unknown", strlen(reason ? reason : "Unknown")) < 0)
                goto out;
        }
        if (!has_cseq && !sup_cseq && c->req_has_cseq && add_line(out, eol, "CSeq: %u", c->req_cseq) < 0)
            goto out;
        bool setup = strcmp(c->req_method, "SETUP") == 0;
        bool ok = code >= 200 && code < 300;
        if (!has_session && !sup_session) {
            if (setup && ok && !c->session_active) {
                uint64_t x = mix64(e->t->seed ^ (0x5E55ull << 32) ^ (uint64_t)c->index);
                if (lab(e))
                    snprintf(c->session, sizeof c->session, "%06u", (unsigned)(100000 + x % 900000));
                else
                    snprintf(c->session, sizeof c->session, "%016llX", (unsigned long long)x);
                c->session_set = c->session_active = true;
                snprintf(e->r->session, sizeof e->r->session, "%s", c->session);
            }
            if (c->session_set && (c->req_has_session || (setup && ok)) &&
                add_line(out, eol, "Session: %s", c->session) < 0)
                goto out;
        }
        if (setup && ok && !lab(e) && !has_transport && !sup_transport && c->transport_known) {
            uint32_t ssrc = (uint32_t)mix64(e->t->seed ^ 0x55C0ull ^ (uint64_t)c->index);
            int k;
            if (c->interleaved)
                k = add_line(out, eol, "Transport: RTP/AVP/TCP;unicast;interleaved=%d-%d;ssrc=%08X",
                             c->channel_rtp, c->channel_rtcp, ssrc);
            else if (conn_open_media(e, c) < 0)
                goto out;
            else
                k = add_line(out, eol,
                             "Transport: RTP/AVP;unicast;client_port=%u-%u;server_port=%u-%u;ssrc=%08X",
                             c->peer_rtp_port, c->peer_rtcp_port, c->rtp_port, c->rtcp_port, ssrc);
            if (k < 0)
                goto out;
        }
    }
    for (unsigned i = 0; i < s->n_headers; i++) {
        const struct scenario_header *h = &s->headers[i];
        if (!h->value)
            continue;
        struct scenario_buf v = {0};
        if (expand(lk, h->value, SCENARIO_TPL_TEXT, h->line, h->value_column, &v) < 0) {
            free(v.buf);
            goto out;
        }
        if (scenario_buf_add(out, eol, strlen(eol)) < 0 ||
            scenario_buf_add(out, h->name, strlen(h->name)) < 0 || scenario_buf_add(out, ": ", 2) < 0 ||
            scenario_buf_add(out, v.buf, v.len) < 0) {
            free(v.buf);
            goto out;
        }
        if (!server && strcasecmp(h->name, "WWW-Authenticate") == 0)
            note_challenge(c, (struct wire_str){v.buf, v.len});
        if (!server && strcasecmp(h->name, "Session") == 0 && !c->session_active) {
            /* the script chose the id: later requests must echo it */
            struct rtsp_session ses;
            struct wire_error err;
            if (rtsp_parse_session((struct wire_str){v.buf, v.len}, RTSP_LENIENT, &ses, NULL, &err) > 0) {
                snprintf(c->session, sizeof c->session, "%.*s", (int)ses.id.len, ses.id.ptr);
                c->session_set = c->session_active = true;
            }
        }
        free(v.buf);
    }
    struct scenario_buf body = {0};
    if (s->has_body && s->body) {
        struct scenario_buf raw = {0};
        if (expand(lk, s->body, SCENARIO_TPL_TEXT, s->body_line, 1, &raw) < 0 ||
            add_body(&body, raw.buf ? raw.buf : "", raw.len, eol) < 0) {
            free(raw.buf);
            free(body.buf);
            goto out;
        }
        free(raw.buf);
    }
    if (body.len && !has_clen && !sup_clen && add_line(out, eol, "Content-Length: %zu", body.len) < 0) {
        free(body.buf);
        goto out;
    }
    /* RFC 2326: a blank line ends the headers. The lab writes none, and no final line end. */
    if (!lab(e) || body.len) {
        if (scenario_buf_add(out, eol, strlen(eol)) < 0 || scenario_buf_add(out, eol, strlen(eol)) < 0) {
            free(body.buf);
            goto out;
        }
    }
    if (body.len && scenario_buf_add(out, body.buf, body.len) < 0) {
        free(body.buf);
        goto out;
    }
    free(body.buf);
    rc = 0;
out:
    if (rc < 0 && !e->step_failed)
        FAIL(e, "scenario.send", st->line, st->column, -1, "the message does not fit (over %u bytes)",
             SCENARIO_MAX_EXPANSION);
    free(start.buf);
    return rc;
}

/* ---------- send steps ---------- */

/* A message is written once the kernel has taken every byte queued up to
 * its end; RTP frames queued after it (interleaved `rtp send`) do not count. */
struct flush_wait {
    struct conn *c;  /* connection */
    uint64_t target; /* out_sent value at the message's end */
};

static bool pred_flushed(struct engine *e, void *arg)
{
    (void)e;
    struct flush_wait *w = arg;
    return w->c->out_sent >= w->target || w->c->write_failed || w->c->fd < 0;
}

/* Write bytes (in segments for `>split`) and wait until the kernel has them. */
static int write_bytes(struct engine *e, struct conn *c, const struct scenario_step *st, const char *data,
                       size_t len, int64_t *sent_ns)
{
    int64_t deadline = step_deadline(e, st);
    size_t seg = st->send.split_bytes ? st->send.split_bytes : len;
    *sent_ns = real_ns();
    for (size_t off = 0; off < len; off += seg) {
        size_t n = len - off < seg ? len - off : seg;
        if (off > 0)
            service_until(e, wire_mono_ms() + st->send.split_gap_ms);
        if (c->fd < 0 || c->eof) {
            FAIL(e, "scenario.closed", st->line, st->column, -1, "cannot send: %s",
                 c->eof_why[0] ? c->eof_why : "the connection is closed");
            return -1;
        }
        if (conn_queue_out(c, data + off, n) < 0) {
            FAIL(e, "scenario.send", st->line, st->column, -1, "cannot queue %zu bytes", n);
            return -1;
        }
        struct flush_wait fw = {.c = c, .target = c->out_sent + outbuf_pending(&c->out)};
        conn_flush(c);
        int w = wait_for(e, deadline, pred_flushed, &fw);
        if (c->write_failed) {
            FAIL(e, "scenario.closed", st->line, st->column, -1, "cannot send: %s", c->eof_why);
            return -1;
        }
        if (w < 0) {
            sut_exited(e, st, "sending");
            return -1;
        }
        if (w == 0) {
            FAIL(e, "scenario.timeout", st->line, st->column, -1,
                 "expected the peer to take %zu bytes within %lld ms, %llu are still queued", n,
                 (long long)step_timeout(e, st), (unsigned long long)(fw.target - c->out_sent));
            return -1;
        }
    }
    return 0;
}

/* Bytes of one send step, and what is known of the request in them. */
struct built {
    struct scenario_buf buf; /* the bytes */
    char method[24];         /* request method, "" unknown */
    char uri[256];           /* request URI */
    bool has_cseq;           /* a CSeq is in them */
    uint32_t cseq;           /* its value */
    bool rendered;           /* written from the dialect: the above are known, not sniffed */
};

/* A CSeq value as the dialect wrote it, if it is a number. */
static bool cseq_number(const char *v, uint32_t *out)
{
    uint64_t x = 0;
    size_t i = 0;
    for (; v && v[i] >= '0' && v[i] <= '9' && i < 10; i++)
        x = x * 10 + (uint64_t)(v[i] - '0');
    if (!v || i == 0 || v[i] || x > UINT32_MAX)
        return false;
    *out = (uint32_t)x;
    return true;
}

/* A lab request from the dialect's template for its method (dialect.h):
 * the block gives the method and the URI ({media}), the engine the CSeq
 * counter, the session and the RTP port, the dialect the lines, their
 * order and their ends. The block's `CSeq:` and `Session:` replace {cseq}
 * and {session} and `!CSeq`, `!Session` leave them out; its `Transport:`
 * replaces the dialect's transport (the lines holding {rtp_port} or
 * {rtcp_port}) and `!Transport` leaves it out; its other headers follow
 * the template's lines. */
static int build_dialect_request(struct engine *e, struct conn *c, const struct scenario_step *st,
                                 struct lookup_ctx *lk, struct built *b)
{
    const struct scenario_send *s = &st->send;
    struct scenario_buf start = {0};
    if (expand(lk, s->start_line, SCENARIO_TPL_TEXT, st->line, s->start_column, &start) < 0) {
        free(start.buf);
        return -1;
    }
    split_words(start.buf, b->method, sizeof b->method, b->uri, sizeof b->uri);
    free(start.buf);
    lk->has_cseq = true;
    lk->cseq = c->next_cseq++;
    lk->method = b->method;
    lk->uri = b->uri;
    const struct dialect_template *tpl = dialect_template_for(e->dialect, b->method);
    if (!tpl) {
        FAIL(e, "scenario.send", st->line, s->start_column, -1,
             "dialect %s has no request %s (and no `request *`)", e->dialect->name, b->method);
        return -1;
    }
    char cseq_text[16], rtp_text[8], rtcp_text[8];
    snprintf(cseq_text, sizeof cseq_text, "%u", lk->cseq);
    struct dialect_request rq = {.values = {
                                     [DIALECT_METHOD] = b->method,
                                     [DIALECT_MEDIA] = b->uri,
                                     [DIALECT_URL] = e->r->url,
                                     [DIALECT_CSEQ] = cseq_text,
                                     [DIALECT_SESSION] = c->session_active ? c->session : NULL,
                                     [DIALECT_HOST] = e->host,
                                     [DIALECT_PORT] = e->port_text,
                                 }};
    struct scenario_buf given[SCENARIO_MAX_HEADERS + 1] = {{0}};
    const char *extra[SCENARIO_MAX_HEADERS + 1];
    struct scenario_buf body = {0};
    bool own_transport = false, has_clen = false, sup_clen = false;
    int rc = -1;
    for (unsigned i = 0; i < s->n_headers && i < SCENARIO_MAX_HEADERS; i++) {
        const struct scenario_header *h = &s->headers[i];
        bool cseq = strcasecmp(h->name, "CSeq") == 0, session = strcasecmp(h->name, "Session") == 0;
        bool transport = strcasecmp(h->name, "Transport") == 0;
        own_transport |= transport;
        if (strcasecmp(h->name, "Content-Length") == 0) {
            has_clen |= h->value != NULL;
            sup_clen |= h->value == NULL;
        }
        if (!h->value) {
            if (cseq)
                rq.values[DIALECT_CSEQ] = NULL;
            if (session)
                rq.values[DIALECT_SESSION] = NULL;
            continue;
        }
        struct scenario_buf *g = &given[i];
        if (!cseq && !session &&
            (scenario_buf_add(g, h->name, strlen(h->name)) < 0 || scenario_buf_add(g, ": ", 2) < 0))
            goto fit;
        if (expand(lk, h->value, SCENARIO_TPL_TEXT, h->line, h->value_column, g) < 0)
            goto out;
        const char *v = g->buf ? g->buf : "";
        if (cseq)
            rq.values[DIALECT_CSEQ] = v;
        else if (session)
            rq.values[DIALECT_SESSION] = v;
        else
            extra[rq.n_extra++] = v;
    }
    if (!own_transport && (tpl->uses & (1u << DIALECT_RTP_PORT | 1u << DIALECT_RTCP_PORT))) {
        if (conn_open_media(e, c) < 0)
            goto out;
        snprintf(rtp_text, sizeof rtp_text, "%u", c->rtp_port);
        snprintf(rtcp_text, sizeof rtcp_text, "%u", c->rtcp_port);
        rq.values[DIALECT_RTP_PORT] = rtp_text;
        rq.values[DIALECT_RTCP_PORT] = rtcp_text;
    }
    if (s->has_body && s->body) {
        struct scenario_buf raw = {0};
        int k = expand(lk, s->body, SCENARIO_TPL_TEXT, s->body_line, 1, &raw);
        if (k == 0 && add_body(&body, raw.buf ? raw.buf : "", raw.len, e->dialect->crlf ? "\r\n" : "\n") < 0)
            k = -2;
        free(raw.buf);
        if (k == -1)
            goto out;
        if (k < 0)
            goto fit;
    }
    if (body.len && !has_clen && !sup_clen) {
        struct scenario_buf *g = &given[SCENARIO_MAX_HEADERS];
        char clen[48];
        int k = snprintf(clen, sizeof clen, "Content-Length: %zu", body.len);
        if (scenario_buf_add(g, clen, (size_t)k) < 0)
            goto fit;
        extra[rq.n_extra++] = g->buf;
    }
    rq.extra = extra;
    rq.body = body.buf;
    rq.body_len = body.len;
    char why[320];
    if (dialect_render(e->dialect, b->method, &rq, &b->buf, why, sizeof why) < 0) {
        FAIL(e, "scenario.send", st->line, st->column, -1, "%s", why);
        goto out;
    }
    b->rendered = true;
    b->has_cseq = cseq_number(rq.values[DIALECT_CSEQ], &b->cseq);
    if (!(tpl->uses & (1u << DIALECT_MEDIA | 1u << DIALECT_URL)))
        b->uri[0] = '\0'; /* the dialect's request names no file ("PLAY \n2") */
    rc = 0;
    goto out;
fit:
    FAIL(e, "scenario.send", st->line, st->column, -1, "the message does not fit (over %u bytes)",
         SCENARIO_MAX_EXPANSION);
out:
    for (unsigned i = 0; i <= SCENARIO_MAX_HEADERS; i++)
        free(given[i].buf);
    free(body.buf);
    return rc;
}

/* Raw bytes and messages the script wrote itself are parsed to learn their CSeq. */
static void sniff_request(struct built *b)
{
    struct rtsp_parse_opts opts = {.mode = RTSP_LENIENT,
                                   .at_idle = true,
                                   .max_header_bytes = SCENARIO_MAX_EXPANSION,
                                   .max_body_bytes = SCENARIO_MAX_EXPANSION};
    struct rtsp_msg msg;
    struct rtsp_header hdrs[MAX_HDRS];
    struct wire_error err;
    if (!b->buf.buf || rtsp_parse(b->buf.buf, b->buf.len, &opts, &msg, hdrs, MAX_HDRS, &err) <= 0 ||
        !msg.is_request)
        return;
    if (!b->method[0])
        snprintf(b->method, sizeof b->method, "%.*s", (int)msg.method.len, msg.method.ptr);
    if (!b->uri[0] && msg.uri.ptr)
        snprintf(b->uri, sizeof b->uri, "%.*s", (int)msg.uri.len, msg.uri.ptr);
    const struct wire_str *cs = rtsp_msg_header(&msg, "CSeq");
    uint32_t v;
    if (cs && rtsp_parse_cseq(*cs, RTSP_LENIENT, &v, NULL, &err) > 0) {
        b->has_cseq = true;
        b->cseq = v;
    } else {
        b->has_cseq = false;
    }
}

static int build_step(struct engine *e, struct conn *c, const struct scenario_step *st, struct built *b)
{
    memset(b, 0, sizeof *b);
    struct lookup_ctx lk = {.e = e, .c = c};
    const struct scenario_send *s = &st->send;
    if (s->form == SCENARIO_SEND_HEX) {
        if (scenario_buf_add(&b->buf, s->hex, s->hex_len) < 0)
            return -1;
    } else if (s->form == SCENARIO_SEND_RAW) {
        lk.has_cseq = e->sc->role == SCENARIO_ROLE_SERVER ? true : c->req_has_cseq;
        lk.cseq = e->sc->role == SCENARIO_ROLE_SERVER ? c->next_cseq : c->req_cseq;
        if (expand(&lk, s->raw, SCENARIO_TPL_CSTRING, st->line, s->raw_column, &b->buf) < 0)
            return -1;
        if (e->sc->role == SCENARIO_ROLE_SERVER)
            c->next_cseq++; /* {cseq} in raw bytes took this number */
    } else if (e->dialect) {
        if (build_dialect_request(e, c, st, &lk, b) < 0)
            return -1;
    } else {
        if (build_message(e, c, st, &lk, &b->buf, b->method, sizeof b->method, b->uri, sizeof b->uri) < 0)
            return -1;
    }
    if (e->sc->role == SCENARIO_ROLE_SERVER && !b->rendered)
        sniff_request(b);
    return 0;
}

static void push_pending(struct conn *c, int exchange, const struct built *b, unsigned line)
{
    if (c->pend_len >= PENDING_MAX) {
        c->pend_head = (c->pend_head + 1) % PENDING_MAX; /* the oldest is given up */
        c->pend_len--;
    }
    struct pending *p = &c->pend[(c->pend_head + c->pend_len++) % PENDING_MAX];
    p->exchange = exchange;
    p->has_cseq = b->has_cseq;
    p->cseq = b->cseq;
    p->line = line;
    snprintf(p->method, sizeof p->method, "%s", b->method);
    snprintf(p->uri, sizeof p->uri, "%s", b->uri);
}

static void record_request(struct engine *e, struct conn *c, const struct scenario_step *st,
                           const struct built *b, int64_t sent_ns)
{
    int x = new_exchange(e, st->line, c);
    if (x < 0)
        return;
    struct replay_exchange *ex = &e->r->exchanges[x];
    snprintf(ex->method, sizeof ex->method, "%s", b->method);
    snprintf(ex->uri, sizeof ex->uri, "%s", b->uri);
    ex->has_cseq = b->has_cseq;
    ex->cseq = b->cseq;
    ex->request_ns = sent_ns;
    ex->request_text = copy_bytes(b->buf.buf ? b->buf.buf : "", b->buf.len);
    ex->request_len = ex->request_text ? b->buf.len : 0;
    push_pending(c, x, b, st->line);
}

static void step_send(struct engine *e, unsigned idx)
{
    const struct scenario *sc = e->sc;
    const struct scenario_step *st = &sc->steps[idx];
    bool server = sc->role == SCENARIO_ROLE_SERVER;
    if (st->send.pipelined)
        return; /* written by the first message of its group */
    struct conn *c = message_conn(e, st, NULL);
    if (!c)
        return;
    unsigned count = st->send.pipeline_count ? st->send.pipeline_count : 1;
    struct built b[64];
    struct scenario_buf all = {0};
    unsigned built = 0;
    int rc = 0;
    for (unsigned k = 0; k < count && idx + k < sc->n_steps; k++) {
        if (build_step(e, c, &sc->steps[idx + k], &b[k]) < 0) {
            free(b[k].buf.buf);
            rc = -1;
            break;
        }
        built++;
        if (count > 1 && scenario_buf_add(&all, b[k].buf.buf ? b[k].buf.buf : "", b[k].buf.len) < 0) {
            FAIL(e, "scenario.send", st->line, st->column, -1, "the pipelined messages do not fit");
            rc = -1;
            break;
        }
    }
    int64_t sent_ns = 0;
    if (rc == 0) {
        const struct scenario_buf *out = count > 1 ? &all : &b[0].buf;
        if (c->fd < 0 || c->eof) {
            FAIL(e, "scenario.closed", st->line, st->column, -1, "cannot send: %s",
                 c->eof_why[0] ? c->eof_why : "the connection is closed");
            rc = -1;
        } else {
            rc = write_bytes(e, c, st, out->buf ? out->buf : "", out->len, &sent_ns);
        }
    }
    for (unsigned k = 0; k < built; k++) {
        if (rc == 0) {
            if (server) {
                record_request(e, c, &sc->steps[idx + k], &b[k], sent_ns);
            } else {
                int x = c->cur_exchange;
                if (x < 0 || e->r->exchanges[x].response_text) {
                    x = new_exchange(e, sc->steps[idx + k].line, c);
                    c->cur_exchange = x;
                }
                if (x >= 0) {
                    struct replay_exchange *ex = &e->r->exchanges[x];
                    ex->response_ns = sent_ns;
                    ex->response_text = copy_bytes(b[k].buf.buf ? b[k].buf.buf : "", b[k].buf.len);
                    ex->response_len = ex->response_text ? b[k].buf.len : 0;
                    char w1[16], w2[16];
                    split_words(ex->response_text ? ex->response_text : "", w1, sizeof w1, w2, sizeof w2);
                    ex->status = atoi(w2);
                    bool ok = ex->status >= 200 && ex->status < 300;
                    if (ok && strcmp(c->req_method, "TEARDOWN") == 0) {
                        c->session_active = false;
                        c->st.active = false;
                    }
                }
            }
        }
        free(b[k].buf.buf);
    }
    free(all.buf);
}

/* ---------- expect steps ---------- */

static bool pred_message(struct engine *e, void *arg)
{
    (void)e;
    struct conn *c = arg;
    return c->q_len > 0 || c->eof || c->fd < 0;
}

static bool status_matches(const struct scenario_expect *ex, int status)
{
    char got[8];
    snprintf(got, sizeof got, "%03d", status);
    for (unsigned i = 0; i < ex->n_status; i++) {
        bool ok = true;
        for (int k = 0; k < 3 && ok; k++)
            ok = ex->status[i].code[k] == 'x' || ex->status[i].code[k] == got[k];
        if (ok)
            return true;
    }
    return false;
}

static void status_list(const struct scenario_expect *ex, char *out, size_t cap)
{
    size_t k = 0;
    out[0] = '\0';
    for (unsigned i = 0; i < ex->n_status && k + 5 < cap; i++)
        k += (size_t)snprintf(out + k, cap - k, "%s%s", i ? "|" : "", ex->status[i].code);
}

/* Printable copy of bytes for a message, "..." when cut. */
static void show(const char *s, size_t n, char *out, size_t cap)
{
    size_t k = 0, i = 0;
    for (; i < n && k + 4 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[k++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    if (i < n) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
}

/* Compile an expanded regex; a failure is recorded. */
static int compile(struct engine *e, const char *re, int flags, regex_t *out, unsigned line, unsigned col)
{
    int rc = regcomp(out, re, REG_EXTENDED | flags);
    if (rc != 0) {
        char msg[128];
        regerror(rc, out, msg, sizeof msg);
        FAIL(e, "scenario.variable", line, col, -1, "the regex '%s' does not compile: %s", re, msg);
        return -1;
    }
    return 0;
}

/* Run captures of a regex match on subject. */
static void apply_captures(struct engine *e, struct conn *c, const struct scenario_matcher *m,
                           const char *subject, const regmatch_t *pm, size_t ngroups)
{
    for (unsigned i = 0; i < m->n_captures; i++) {
        size_t g = ngroups == 0 ? 0 : i + 1;
        if (g > ngroups || pm[g].rm_so < 0) {
            var_set(e, c, m->captures[i], "", 0);
            continue;
        }
        var_set(e, c, m->captures[i], subject + pm[g].rm_so, (size_t)(pm[g].rm_eo - pm[g].rm_so));
    }
}

/* Check a header matcher against a message. */
static void match_header(struct engine *e, struct conn *c, const struct scenario_matcher *m,
                         const struct rtsp_msg *msg, int exchange, struct lookup_ctx *lk)
{
    size_t count = rtsp_msg_header_count(msg, m->name);
    const struct wire_str *first = rtsp_msg_header(msg, m->name);
    char got[200];
    if (first)
        show(first->ptr, first->len, got, sizeof got);
    switch (m->kind) {
    case SCENARIO_MATCH_PRESENT:
        if (!count)
            FAIL(e, "scenario.header", m->line, m->column, exchange, "expected a %s header, got none",
                 m->name);
        return;
    case SCENARIO_MATCH_ABSENT:
        if (count)
            FAIL(e, "scenario.absent", m->line, m->column, exchange, "expected no %s header, got '%s: %s'",
                 m->name, m->name, got);
        return;
    case SCENARIO_MATCH_CAPTURE: {
        if (!count) {
            FAIL(e, "scenario.header", m->line, m->column, exchange,
                 "expected a %s header to capture $%s, got none", m->name, m->captures[0]);
            return;
        }
        struct wire_str v = wire_str_trim(*first);
        if (strcasecmp(m->name, "Session") == 0) {
            struct rtsp_session ses;
            struct wire_error err;
            if (rtsp_parse_session(v, RTSP_LENIENT, &ses, NULL, &err) > 0)
                v = ses.id; /* {session} is the id, not its ;timeout */
        }
        var_set(e, c, m->captures[0], v.ptr, v.len);
        return;
    }
    case SCENARIO_MATCH_EXACT: {
        struct scenario_buf want = {0};
        if (expand(lk, m->pattern, SCENARIO_TPL_TEXT, m->line, m->pattern_column, &want) < 0) {
            free(want.buf);
            return;
        }
        size_t idx = 0;
        const struct wire_str *v;
        bool ok = false;
        while (!ok && (v = rtsp_msg_header_next(msg, m->name, &idx)) != NULL) {
            struct wire_str t = wire_str_trim(*v);
            ok = t.len == want.len && memcmp(t.ptr, want.buf, t.len) == 0;
        }
        if (!ok) {
            if (count)
                FAIL(e, "scenario.header", m->line, m->column, exchange, "expected %s: %s, got %s: %s",
                     m->name, want.buf, m->name, got);
            else
                FAIL(e, "scenario.header", m->line, m->column, exchange, "expected %s: %s, got no %s header",
                     m->name, want.buf, m->name);
        }
        free(want.buf);
        return;
    }
    case SCENARIO_MATCH_REGEX: {
        struct scenario_buf re = {0};
        regex_t rx;
        if (expand(lk, m->pattern, SCENARIO_TPL_REGEX, m->line, m->pattern_column, &re) < 0 ||
            compile(e, re.buf, 0, &rx, m->line, m->pattern_column) < 0) {
            free(re.buf);
            return;
        }
        size_t idx = 0;
        const struct wire_str *v;
        bool ok = false;
        while (!ok && (v = rtsp_msg_header_next(msg, m->name, &idx)) != NULL) {
            struct wire_str t = wire_str_trim(*v);
            char *subject = copy_bytes(t.ptr, t.len);
            regmatch_t pm[SCENARIO_MAX_CAPTURES + 1];
            if (subject && regexec(&rx, subject, SCENARIO_MAX_CAPTURES + 1, pm, 0) == 0) {
                ok = true;
                apply_captures(e, c, m, subject, pm, rx.re_nsub);
            }
            free(subject);
        }
        if (!ok) {
            if (count)
                FAIL(e, "scenario.header", m->line, m->column, exchange,
                     "expected %s matching ~%s, got %s: %s", m->name, re.buf, m->name, got);
            else
                FAIL(e, "scenario.header", m->line, m->column, exchange,
                     "expected %s matching ~%s, got no %s header", m->name, re.buf, m->name);
        }
        regfree(&rx);
        free(re.buf);
        return;
    }
    default: return;
    }
}

static void match_body(struct engine *e, struct conn *c, const struct scenario_matcher *m,
                       const struct rtsp_msg *msg, int exchange, struct lookup_ctx *lk)
{
    bool sdp = m->kind == SCENARIO_MATCH_SDP_LINE || m->kind == SCENARIO_MATCH_SDP_REGEX ||
               m->kind == SCENARIO_MATCH_SDP_ABSENT;
    bool regex = m->kind == SCENARIO_MATCH_SDP_REGEX || m->kind == SCENARIO_MATCH_BODY_REGEX ||
                 m->kind == SCENARIO_MATCH_BODY_NOT ||
                 (m->kind == SCENARIO_MATCH_SDP_ABSENT && m->pattern_regex);
    struct scenario_buf pat = {0};
    if (expand(lk, m->pattern, regex ? SCENARIO_TPL_REGEX : SCENARIO_TPL_TEXT, m->line, m->pattern_column,
               &pat) < 0) {
        free(pat.buf);
        return;
    }
    regex_t rx;
    if (regex && compile(e, pat.buf, sdp ? 0 : REG_NEWLINE, &rx, m->line, m->pattern_column) < 0) {
        free(pat.buf);
        return;
    }
    const char *check = sdp ? "scenario.sdp" : "scenario.body";
    if (!sdp) {
        /* CRLF line ends are matched as LF, so that $ ends a line of either kind */
        char *subject = copy_bytes(msg->body.ptr ? msg->body.ptr : "", msg->body.len);
        if (subject) {
            size_t k = 0;
            for (size_t i = 0; i < msg->body.len; i++)
                if (!(subject[i] == '\r' && i + 1 < msg->body.len && subject[i + 1] == '\n'))
                    subject[k++] = subject[i];
            subject[k] = '\0';
        }
        regmatch_t pm[SCENARIO_MAX_CAPTURES + 1];
        bool hit = subject && regexec(&rx, subject, SCENARIO_MAX_CAPTURES + 1, pm, 0) == 0;
        char got[120];
        show(msg->body.ptr ? msg->body.ptr : "", msg->body.len, got, sizeof got);
        if (m->kind == SCENARIO_MATCH_BODY_REGEX) {
            if (hit)
                apply_captures(e, c, m, subject, pm, rx.re_nsub);
            else
                FAIL(e, check, m->line, m->column, exchange, "expected a body matching ~%s, got %s%s%s",
                     pat.buf, msg->body.len ? "'" : "an empty body", got, msg->body.len ? "'" : "");
        } else if (hit) {
            FAIL(e, check, m->line, m->column, exchange, "expected a body not matching ~%s, got '%s'",
                 pat.buf, got);
        }
        free(subject);
        regfree(&rx);
        free(pat.buf);
        return;
    }
    /* Line by line: lines end in LF or CRLF. */
    bool hit = false;
    char first_m[120] = "";
    const char *body = msg->body.ptr ? msg->body.ptr : "";
    size_t blen = msg->body.len, off = 0;
    char *line = malloc(blen + 1);
    while (line && off < blen && !hit) {
        const char *nl = memchr(body + off, '\n', blen - off);
        size_t end = nl ? (size_t)(nl - body) : blen;
        size_t len = end - off;
        if (len && body[off + len - 1] == '\r')
            len--;
        memcpy(line, body + off, len);
        line[len] = '\0';
        off = end + 1;
        if (!first_m[0] && len > 2 && line[0] == 'm' && line[1] == '=')
            show(line, len, first_m, sizeof first_m);
        if (regex) {
            regmatch_t pm[SCENARIO_MAX_CAPTURES + 1];
            if (regexec(&rx, line, SCENARIO_MAX_CAPTURES + 1, pm, 0) == 0) {
                hit = true;
                if (m->kind == SCENARIO_MATCH_SDP_REGEX)
                    apply_captures(e, c, m, line, pm, rx.re_nsub);
            }
        } else {
            hit = len == pat.len && memcmp(line, pat.buf, len) == 0;
        }
    }
    if (m->kind == SCENARIO_MATCH_SDP_ABSENT) {
        if (hit)
            FAIL(e, check, m->line, m->column, exchange, "expected no SDP line %s%s, got one",
                 regex ? "matching ~" : "", pat.buf);
    } else if (!hit) {
        if (blen == 0)
            FAIL(e, check, m->line, m->column, exchange, "expected an SDP line %s%s, got no body",
                 regex ? "matching ~" : "", pat.buf);
        else if (first_m[0])
            FAIL(e, check, m->line, m->column, exchange,
                 "expected an SDP line %s%s, got none (first m= line: %s)", regex ? "matching ~" : "",
                 pat.buf, first_m);
        else
            FAIL(e, check, m->line, m->column, exchange, "expected an SDP line %s%s, got none (no m= line)",
                 regex ? "matching ~" : "", pat.buf);
    }
    free(line);
    if (regex)
        regfree(&rx);
    free(pat.buf);
}

static void match_auth(struct engine *e, struct conn *c, const struct scenario_matcher *m,
                       const struct rtsp_msg *msg, int exchange, struct lookup_ctx *lk)
{
    bool digest = m->kind == SCENARIO_MATCH_AUTH_DIGEST;
    const char *scheme = digest ? "Digest" : "Basic";
    struct scenario_buf user = {0}, pass = {0};
    if (expand(lk, m->pattern, SCENARIO_TPL_TEXT, m->line, m->pattern_column, &user) < 0 ||
        expand(lk, m->password, SCENARIO_TPL_TEXT, m->line, m->pattern_column, &pass) < 0)
        goto out;
    const struct wire_str *v = rtsp_msg_header(msg, "Authorization");
    if (!v) {
        FAIL(e, "scenario.auth", m->line, m->column, exchange,
             "expected %s credentials for %s, got no Authorization header", scheme, user.buf);
        goto out;
    }
    struct rtsp_authorization a;
    char scratch[512];
    struct wire_error err = {0, NULL};
    if (rtsp_parse_authorization(*v, &a, scratch, sizeof scratch, &err) < 0) {
        FAIL(e, "scenario.auth", m->line, m->column, exchange,
             "expected %s credentials, the Authorization header does not parse: %s", scheme,
             err.reason ? err.reason : "error");
        goto out;
    }
    if ((digest && a.scheme != RTSP_AUTH_DIGEST) || (!digest && a.scheme != RTSP_AUTH_BASIC)) {
        FAIL(e, "scenario.auth", m->line, m->column, exchange, "expected %s credentials, got the %.*s scheme",
             scheme, (int)a.scheme_name.len, a.scheme_name.ptr);
        goto out;
    }
    char uname[256] = "";
    if (digest)
        rtsp_unquote(a.username, uname, sizeof uname);
    else
        snprintf(uname, sizeof uname, "%.*s", (int)a.username.len, a.username.ptr);
    if (strcmp(uname, user.buf) != 0) {
        FAIL(e, "scenario.auth", m->line, m->column, exchange, "expected user %s, got %s", user.buf, uname);
        goto out;
    }
    if (!digest) {
        if (a.password.len != pass.len || memcmp(a.password.ptr, pass.buf, pass.len) != 0)
            FAIL(e, "scenario.auth", m->line, m->column, exchange,
                 "expected the password of %s, got a different one", user.buf);
        goto out;
    }
    char realm[160] = "", nonce[200] = "", uri[512] = "", resp[80] = "", qop[32] = "", nc[32] = "",
         cnonce[200] = "";
    rtsp_unquote(a.realm, realm, sizeof realm);
    rtsp_unquote(a.nonce, nonce, sizeof nonce);
    rtsp_unquote(a.uri, uri, sizeof uri);
    rtsp_unquote(a.response, resp, sizeof resp);
    rtsp_unquote(a.qop, qop, sizeof qop);
    rtsp_unquote(a.nc, nc, sizeof nc);
    rtsp_unquote(a.cnonce, cnonce, sizeof cnonce);
    if (c->chal_given && c->chal_digest) {
        if (strcmp(realm, c->chal_realm) != 0) {
            FAIL(e, "scenario.auth", m->line, m->column, exchange,
                 "expected realm \"%s\" (from the 401), got \"%s\"", c->chal_realm, realm);
            goto out;
        }
        if (strcmp(nonce, c->chal_nonce) != 0) {
            FAIL(e, "scenario.auth", m->line, m->column, exchange,
                 "expected nonce \"%s\" (from the 401), got \"%s\"", c->chal_nonce, nonce);
            goto out;
        }
    }
    char req_uri[512];
    snprintf(req_uri, sizeof req_uri, "%.*s", (int)msg->uri.len, msg->uri.ptr ? msg->uri.ptr : "");
    if (strcmp(uri, req_uri) != 0) {
        FAIL(e, "scenario.auth", m->line, m->column, exchange,
             "expected the digest uri to be the request URI %s, got %s", req_uri, uri);
        goto out;
    }
    char method[32];
    snprintf(method, sizeof method, "%.*s", (int)msg->method.len, msg->method.ptr);
    char want[33];
    digest_response(user.buf, realm, pass.buf, method, uri, nonce, qop[0] ? qop : NULL, nc, cnonce, want);
    if (strcasecmp(want, resp) != 0)
        FAIL(e, "scenario.auth", m->line, m->column, exchange,
             "expected digest response %s for %s (RFC 2617, MD5%s), got %s", want, user.buf,
             qop[0] ? ", qop=auth" : "", resp[0] ? resp : "none");
out:
    free(user.buf);
    free(pass.buf);
}

static void run_matchers(struct engine *e, struct conn *c, const struct scenario_expect *ex,
                         const struct rtsp_msg *msg, int exchange, struct lookup_ctx *lk)
{
    for (unsigned i = 0; i < ex->n_matchers; i++) {
        const struct scenario_matcher *m = &ex->matchers[i];
        switch (m->kind) {
        case SCENARIO_MATCH_EXACT:
        case SCENARIO_MATCH_REGEX:
        case SCENARIO_MATCH_PRESENT:
        case SCENARIO_MATCH_ABSENT:
        case SCENARIO_MATCH_CAPTURE: match_header(e, c, m, msg, exchange, lk); break;
        case SCENARIO_MATCH_SDP_LINE:
        case SCENARIO_MATCH_SDP_REGEX:
        case SCENARIO_MATCH_SDP_ABSENT:
        case SCENARIO_MATCH_BODY_REGEX:
        case SCENARIO_MATCH_BODY_NOT: match_body(e, c, m, msg, exchange, lk); break;
        case SCENARIO_MATCH_AUTH_BASIC:
        case SCENARIO_MATCH_AUTH_DIGEST: match_auth(e, c, m, msg, exchange, lk); break;
        }
    }
}

/* {control} and {track_url} from an SDP body. */
static void learn_sdp(struct conn *c, const struct rtsp_msg *msg, const char *request_uri)
{
    struct sdp_media media[16];
    struct sdp_attr attrs[128];
    struct sdp_session s;
    struct wire_error err;
    sdp_session_init(&s, media, 16, attrs, 128, NULL, 0);
    if (sdp_parse(msg->body.ptr, msg->body.len, &s, &err) < 0 || s.media_count == 0)
        return;
    struct wire_str ctl;
    if (!sdp_control(&s, &s.media[0], &ctl))
        return;
    snprintf(c->control, sizeof c->control, "%.*s", (int)ctl.len, ctl.ptr);
    const struct wire_str *base = rtsp_msg_header(msg, "Content-Base");
    if (!base)
        base = rtsp_msg_header(msg, "Content-Location");
    char b[512];
    if (base) {
        struct wire_str t = wire_str_trim(*base);
        snprintf(b, sizeof b, "%.*s", (int)t.len, t.ptr);
    } else {
        snprintf(b, sizeof b, "%s", request_uri);
    }
    if (sdp_resolve_control(b, ctl, c->track_url, sizeof c->track_url, &err) < 0)
        c->track_url[0] = '\0';
}

static bool is_sdp(const struct rtsp_msg *msg)
{
    const struct wire_str *ct = rtsp_msg_header(msg, "Content-Type");
    if (ct && ct->len >= 15 && memmem(ct->ptr, ct->len, "application/sdp", 15))
        return true;
    return msg->body.len >= 2 && msg->body.ptr[0] == 'v' && msg->body.ptr[1] == '=';
}

/* Pop the oldest queued message into m (the caller frees it). */
static void pop_msg(struct conn *c, struct msg_item *m)
{
    *m = c->q[c->q_head];
    memset(&c->q[c->q_head], 0, sizeof c->q[c->q_head]);
    c->q_head = (c->q_head + 1) % MSGQ;
    c->q_len--;
}

static int parse_item(const struct msg_item *m, struct rtsp_msg *msg, struct rtsp_header *hdrs)
{
    struct rtsp_parse_opts opts = {
        .mode = RTSP_LENIENT, .at_idle = true, .max_header_bytes = HEADER_MAX, .max_body_bytes = BODY_MAX};
    struct wire_error err;
    return m->bad || !m->text ? -1 : rtsp_parse(m->text, m->len, &opts, msg, hdrs, MAX_HDRS, &err);
}

/* Say what a timed-out wait got instead. */
static void partial_text(const struct conn *c, char *out, size_t cap)
{
    if (c->in_len) {
        char fl[110];
        first_line(c->in, c->in_len, fl, sizeof fl);
        snprintf(out, cap, "%zu bytes that do not end a message ('%s')", c->in_len, fl);
    } else {
        snprintf(out, cap, "nothing");
    }
}

static void step_expect_reply(struct engine *e, const struct scenario_step *st)
{
    const struct scenario_expect *ex = &st->expect;
    struct conn *c = message_conn(e, st, NULL);
    if (!c)
        return;
    struct pending req = {.exchange = -1};
    bool have_req = c->pend_len > 0;
    if (have_req)
        req = c->pend[c->pend_head];
    char want[64];
    status_list(ex, want, sizeof want);
    int w = wait_for(e, step_deadline(e, st), pred_message, c);
    if (c->q_len == 0) {
        if (have_req) {
            c->pend_head = (c->pend_head + 1) % PENDING_MAX;
            c->pend_len--;
        }
        char what[160];
        if (req.method[0])
            snprintf(what, sizeof what, "a reply to %s (line %u)", req.method, req.line);
        else
            snprintf(what, sizeof what, "a reply");
        if (w < 0) {
            sut_exited(e, st, "waiting for a reply");
        } else if (c->eof || c->fd < 0) {
            FAIL(e, "scenario.closed", st->line, st->column, req.exchange,
                 "expected %s with status %s, got the connection closed (%s)", what, want,
                 c->eof_why[0] ? c->eof_why : "closed");
        } else {
            char got[200];
            partial_text(c, got, sizeof got);
            FAIL(e, "scenario.timeout", st->line, st->column, req.exchange,
                 "expected %s with status %s within %lld ms, got %s", what, want,
                 (long long)step_timeout(e, st), got);
        }
        return;
    }
    struct msg_item item;
    pop_msg(c, &item);
    int x = req.exchange;
    if (have_req) {
        c->pend_head = (c->pend_head + 1) % PENDING_MAX;
        c->pend_len--;
    } else {
        x = new_exchange(e, st->line, c);
    }
    struct rtsp_msg msg;
    struct rtsp_header hdrs[MAX_HDRS];
    int pr = parse_item(&item, &msg, hdrs);
    if (x >= 0) {
        struct replay_exchange *rx = &e->r->exchanges[x];
        rx->response_ns = item.time_ns;
        rx->response_text = item.text;
        rx->response_len = item.len;
        item.text = NULL;
        if (pr > 0 && !msg.is_request)
            rx->status = msg.status;
        if (pr > 0)
            record_deviations(rx, &msg);
    }
    const char *text = x >= 0 ? e->r->exchanges[x].response_text : item.text;
    if (pr <= 0) {
        char fl[110];
        first_line(text ? text : "", item.len, fl, sizeof fl);
        FAIL(e, "rtsp.syntax", st->line, st->column, x,
             "expected a reply with status %s, got bytes that do not parse (%s): '%s'", want,
             item.error[0] ? item.error : "not a message", fl);
        msg_item_free(&item);
        return;
    }
    if (msg.is_request) {
        FAIL(e, "scenario.status", st->line, ex->start_column, x,
             "expected a reply with status %s, got a request %.*s %.*s", want, (int)msg.method.len,
             msg.method.ptr, (int)msg.uri.len, msg.uri.ptr ? msg.uri.ptr : "");
        msg_item_free(&item);
        return;
    }
    struct lookup_ctx lk = {.e = e, .c = c, .has_cseq = req.has_cseq, .cseq = req.cseq};
    if (!status_matches(ex, msg.status))
        FAIL(e, "scenario.status", st->line, ex->start_column, x, "expected status %s, got %d %.*s", want,
             msg.status, (int)msg.reason.len, msg.reason.ptr ? msg.reason.ptr : "");
    else if (ex->reason && !wire_str_eq(msg.reason, ex->reason))
        FAIL(e, "scenario.status", st->line, ex->start_column, x, "expected reason '%s', got '%.*s'",
             ex->reason, (int)msg.reason.len, msg.reason.ptr ? msg.reason.ptr : "");
    bool ok = msg.status >= 200 && msg.status < 300;

    /* automatic CSeq */
    if (!ex->explicit_cseq && req.has_cseq) {
        const struct wire_str *cs = rtsp_msg_header(&msg, "CSeq");
        uint32_t v;
        struct wire_error err;
        if (!cs)
            FAIL(e, "rtsp.cseq.missing", st->line, st->column, x, "expected CSeq %u in the reply, got none",
                 req.cseq);
        else if (rtsp_parse_cseq(*cs, RTSP_LENIENT, &v, NULL, &err) < 0 || v != req.cseq) {
            char got[64];
            show(cs->ptr, cs->len, got, sizeof got);
            FAIL(e, "rtsp.cseq.echo", st->line, st->column, x, "expected CSeq %u, got %s", req.cseq, got);
        }
    }
    /* automatic Session: learnt from the first 2xx reply that carries one,
     * checked unless the block names Session itself */
    const struct wire_str *sv = rtsp_msg_header(&msg, "Session");
    if (sv) {
        struct rtsp_session ses;
        struct wire_error err;
        if (rtsp_parse_session(*sv, RTSP_LENIENT, &ses, NULL, &err) > 0) {
            if (c->session_active && !wire_str_eq(ses.id, c->session)) {
                if (!ex->explicit_session)
                    FAIL(e, "rtsp.session.changed", st->line, st->column, x, "expected Session %s, got %.*s",
                         c->session, (int)ses.id.len, ses.id.ptr);
            } else if (!c->session_active && ok) {
                snprintf(c->session, sizeof c->session, "%.*s", (int)ses.id.len, ses.id.ptr);
                c->session_set = c->session_active = true;
                snprintf(e->r->session, sizeof e->r->session, "%s", c->session);
            }
        }
    } else if (ok && strcmp(req.method, "SETUP") == 0 && !ex->explicit_session) {
        FAIL(e, "rtsp.session.missing", st->line, st->column, x,
             "expected a Session in the reply to SETUP, got none");
    }
    if (ok && strcmp(req.method, "SETUP") == 0) {
        const struct wire_str *tv = rtsp_msg_header(&msg, "Transport");
        struct rtsp_transport tr[4];
        size_t nt = 0;
        struct wire_error err;
        if (tv && rtsp_parse_transport(*tv, RTSP_LENIENT, tr, 4, &nt, NULL, &err) > 0 && nt > 0) {
            if (tr[0].server_port.count) {
                c->peer_rtp_port = tr[0].server_port.first;
                c->peer_rtcp_port = tr[0].server_port.count == 2 ? tr[0].server_port.second
                                                                 : (uint16_t)(tr[0].server_port.first + 1);
            }
            if (tr[0].interleaved.count) {
                c->interleaved = true;
                c->channel_rtp = tr[0].interleaved.first;
                c->channel_rtcp =
                    tr[0].interleaved.count == 2 ? tr[0].interleaved.second : tr[0].interleaved.first + 1;
            }
        }
    }
    if (ok && strcmp(req.method, "TEARDOWN") == 0)
        c->session_active = false;
    if (msg.status == 401) {
        const struct wire_str *wa = rtsp_msg_header(&msg, "WWW-Authenticate");
        if (wa)
            note_challenge(c, *wa);
    }
    if (msg.body.len && is_sdp(&msg))
        learn_sdp(c, &msg, req.uri[0] ? req.uri : e->r->url);
    run_matchers(e, c, ex, &msg, x, &lk);
    msg_item_free(&item);
}

static bool method_matches(const struct scenario_expect *ex, struct wire_str m)
{
    for (unsigned i = 0; i < ex->n_methods; i++)
        if (wire_str_eq(m, ex->methods[i]))
            return true;
    return false;
}

static void method_list(const struct scenario_expect *ex, char *out, size_t cap)
{
    size_t k = 0;
    out[0] = '\0';
    for (unsigned i = 0; i < ex->n_methods && k + 2 < cap; i++) {
        int n = snprintf(out + k, cap - k, "%s%s", i ? "|" : "", ex->methods[i]);
        if (n < 0 || (size_t)n >= cap - k)
            break;
        k += (size_t)n;
    }
}

static bool session_required(struct wire_str method)
{
    static const char *const need[] = {"PLAY",          "PAUSE",  "TEARDOWN", "GET_PARAMETER",
                                       "SET_PARAMETER", "RECORD", NULL};
    for (int i = 0; need[i]; i++)
        if (wire_str_eq(method, need[i]))
            return true;
    return false;
}

static void step_expect_request(struct engine *e, const struct scenario_step *st)
{
    const struct scenario_expect *ex = &st->expect;
    char methods[200];
    method_list(ex, methods, sizeof methods);
    struct conn *c = message_conn(e, st, methods);
    if (!c)
        return;
    int w = wait_for(e, step_deadline(e, st), pred_message, c);
    if (c->q_len == 0) {
        if (w < 0) {
            sut_exited(e, st, "waiting for a request");
        } else if (c->eof || c->fd < 0) {
            FAIL(e, "scenario.closed", st->line, st->column, -1,
                 "expected a %s request, got the connection closed (%s)", methods,
                 c->eof_why[0] ? c->eof_why : "closed");
        } else {
            char got[200];
            partial_text(c, got, sizeof got);
            FAIL(e, "scenario.timeout", st->line, st->column, -1,
                 "expected a %s request within %lld ms, got %s", methods, (long long)step_timeout(e, st),
                 got);
        }
        return;
    }
    struct msg_item *head = &c->q[c->q_head];
    struct rtsp_msg msg;
    struct rtsp_header hdrs[MAX_HDRS];
    int pr = parse_item(head, &msg, hdrs);
    struct lookup_ctx lk = {.e = e, .c = c};
    bool line_ok = false;
    struct scenario_buf want_uri = {0};
    if (pr > 0 && msg.is_request && method_matches(ex, msg.method)) {
        if (expand(&lk, ex->uri, ex->uri_regex ? SCENARIO_TPL_REGEX : SCENARIO_TPL_TEXT, st->line,
                   ex->uri_column, &want_uri) == 0) {
            if (ex->uri_regex) {
                regex_t rx;
                if (compile(e, want_uri.buf, REG_NOSUB, &rx, st->line, ex->uri_column) == 0) {
                    char *u = copy_bytes(msg.uri.ptr ? msg.uri.ptr : "", msg.uri.len);
                    line_ok = u && regexec(&rx, u, 0, NULL, 0) == 0;
                    free(u);
                    regfree(&rx);
                }
            } else {
                line_ok = msg.uri.len == want_uri.len && memcmp(msg.uri.ptr, want_uri.buf, want_uri.len) == 0;
            }
        } else {
            free(want_uri.buf);
            return;
        }
    }
    /* An optional request that is not the one that came leaves it for the next step. */
    if (!line_ok && st->optional && pr > 0) {
        e->step_skipped = true;
        free(want_uri.buf);
        return;
    }
    struct msg_item item;
    pop_msg(c, &item);
    e->step_took_request = true;
    int x = new_exchange(e, st->line, c);
    c->cur_exchange = x;
    c->req_has_cseq = c->req_has_session = false;
    c->req_method[0] = c->req_uri[0] = '\0';
    if (x >= 0) {
        struct replay_exchange *rx = &e->r->exchanges[x];
        rx->request_ns = item.time_ns;
        rx->request_text = item.text;
        rx->request_len = item.len;
        item.text = NULL;
        if (pr > 0)
            record_deviations(rx, &msg);
    }
    const char *text = x >= 0 ? e->r->exchanges[x].request_text : item.text;
    if (pr <= 0) {
        char fl[110];
        first_line(text ? text : "", item.len, fl, sizeof fl);
        FAIL(e, "rtsp.syntax", st->line, st->column, x,
             "expected a %s request, got bytes that do not parse (%s): '%s'", methods,
             item.error[0] ? item.error : "not a message", fl);
        goto out;
    }
    if (!msg.is_request) {
        FAIL(e, "scenario.request", st->line, ex->start_column, x, "expected a %s request, got a reply %d",
             methods, msg.status);
        goto out;
    }
    snprintf(c->req_method, sizeof c->req_method, "%.*s", (int)msg.method.len, msg.method.ptr);
    snprintf(c->req_uri, sizeof c->req_uri, "%.*s", (int)msg.uri.len, msg.uri.ptr ? msg.uri.ptr : "");
    if (x >= 0) {
        struct replay_exchange *rx = &e->r->exchanges[x];
        snprintf(rx->method, sizeof rx->method, "%s", c->req_method);
        snprintf(rx->uri, sizeof rx->uri, "%s", c->req_uri);
    }
    const struct wire_str *cs = rtsp_msg_header(&msg, "CSeq");
    uint32_t cseq = 0;
    struct wire_error err;
    if (cs && rtsp_parse_cseq(*cs, RTSP_LENIENT, &cseq, NULL, &err) > 0) {
        c->req_has_cseq = true;
        c->req_cseq = cseq;
        if (x >= 0) {
            e->r->exchanges[x].has_cseq = true;
            e->r->exchanges[x].cseq = cseq;
        }
    }
    if (!line_ok) {
        if (!method_matches(ex, msg.method))
            FAIL(e, "scenario.request", st->line, ex->start_column, x, "expected a %s request, got %s %s",
                 methods, c->req_method, c->req_uri);
        else
            FAIL(e, "scenario.request", st->line, ex->uri_column, x, "expected %s %s%s, got %s %s",
                 c->req_method, ex->uri_regex ? "~" : "", want_uri.buf ? want_uri.buf : "", c->req_method,
                 c->req_uri);
    }
    lk.has_cseq = c->req_has_cseq;
    lk.cseq = c->req_cseq;
    lk.method = c->req_method;
    lk.uri = c->req_uri;
    /* automatic CSeq */
    if (!ex->explicit_cseq) {
        if (!cs)
            FAIL(e, "rtsp.cseq.missing", st->line, st->column, x, "expected a CSeq in %s, got none",
                 c->req_method);
        else if (!c->req_has_cseq) {
            char got[64];
            show(cs->ptr, cs->len, got, sizeof got);
            FAIL(e, "rtsp.cseq.missing", st->line, st->column, x, "expected a numeric CSeq in %s, got '%s'",
                 c->req_method, got);
        } else if (c->have_client_cseq && cseq <= c->client_cseq)
            FAIL(e, "rtsp.cseq.increase", st->line, st->column, x, "expected a CSeq above %u in %s, got %u",
                 c->client_cseq, c->req_method, cseq);
    }
    if (c->req_has_cseq) {
        c->have_client_cseq = true;
        c->client_cseq = cseq;
    }
    /* automatic Session */
    const struct wire_str *sv = rtsp_msg_header(&msg, "Session");
    c->req_has_session = sv != NULL;
    if (!ex->explicit_session && c->session_active) {
        struct rtsp_session ses;
        if (sv && rtsp_parse_session(*sv, RTSP_LENIENT, &ses, NULL, &err) > 0) {
            if (!wire_str_eq(ses.id, c->session))
                FAIL(e, "rtsp.session.changed", st->line, st->column, x,
                     "expected Session %s in %s, got %.*s", c->session, c->req_method, (int)ses.id.len,
                     ses.id.ptr);
        } else if (!sv && session_required(msg.method)) {
            FAIL(e, "rtsp.session.missing", st->line, st->column, x, "expected Session %s in %s, got none",
                 c->session, c->req_method);
        }
    }
    /* the client's transport */
    if (msg.method_id == RTSP_METHOD_SETUP) {
        const struct wire_str *tv = rtsp_msg_header(&msg, "Transport");
        struct rtsp_transport tr[4];
        size_t nt = 0;
        if (tv && rtsp_parse_transport(*tv, RTSP_LENIENT, tr, 4, &nt, NULL, &err) > 0 && nt > 0) {
            const struct rtsp_transport *t = &tr[0];
            if (t->lower_kind == RTSP_LOWER_TCP || t->interleaved.count) {
                c->interleaved = true;
                c->channel_rtp = t->interleaved.count ? t->interleaved.first : 0;
                c->channel_rtcp = t->interleaved.count == 2 ? t->interleaved.second : c->channel_rtp + 1;
                c->transport_known = true;
            } else if (t->client_port.count) {
                c->interleaved = false;
                c->peer_rtp_port = t->client_port.first;
                c->peer_rtcp_port =
                    t->client_port.count == 2 ? t->client_port.second : (uint16_t)(t->client_port.first + 1);
                c->transport_known = true;
                conn_open_media(e, c);
            }
        }
    }
    run_matchers(e, c, ex, &msg, x, &lk);
out:
    free(want_uri.buf);
    msg_item_free(&item);
}

/* ---------- the other steps ---------- */

static bool pred_closed(struct engine *e, void *arg)
{
    (void)e;
    struct conn *c = arg;
    return c->eof || c->fd < 0 || c->q_len > 0;
}

static void step_expect_close(struct engine *e, const struct scenario_step *st)
{
    struct conn *c = current(e);
    if (!c || c->fd < 0) {
        if (c && c->eof)
            return;
        FAIL(e, "scenario.connect", st->line, st->column, -1,
             "expected the peer to close the connection, but none is open");
        return;
    }
    int w = wait_for(e, step_deadline(e, st), pred_closed, c);
    if (c->q_len > 0) {
        struct msg_item item;
        pop_msg(c, &item);
        char fl[110];
        first_line(item.text ? item.text : "", item.len, fl, sizeof fl);
        FAIL(e, "scenario.closed", st->line, st->column, -1,
             "expected the peer to close the connection, got a message: '%s'", fl);
        msg_item_free(&item);
        return;
    }
    if (c->eof)
        return;
    if (w < 0)
        sut_exited(e, st, "waiting for the connection to close");
    else
        FAIL(e, "scenario.closed", st->line, st->column, -1,
             "expected the peer to close the connection within %lld ms, it stayed open",
             (long long)step_timeout(e, st));
}

/* RTSP bytes (not an interleaved frame) wait in the input. */
static bool rtsp_bytes_pending(const struct conn *c)
{
    size_t skip = 0;
    return c->in_len > 0 && rtsp_next_kind(c->in, c->in_len, &skip) == RTSP_NEXT_MESSAGE;
}

/* The SUT's processes use at most st->cpu_percent of one CPU while the
 * engine goes on serving its connections for st->duration_ms. */
static void step_expect_cpu(struct engine *e, const struct scenario_step *st)
{
    uint64_t before, after;
    if (!e->h || !e->h->sut_cpu_ns || e->h->sut_cpu_ns(e->h->ctx, &before) != 0) {
        FAIL(e, "scenario.cpu", st->line, st->column, -1,
             "the CPU use of the system under test cannot be measured here (--target?)");
        return;
    }
    int64_t t0 = wire_mono_ms();
    service_until(e, t0 + st->duration_ms);
    int64_t elapsed = wire_mono_ms() - t0;
    if (e->h->sut_cpu_ns(e->h->ctx, &after) != 0) {
        FAIL(e, "scenario.cpu", st->line, st->column, -1, "the system under test ended while its CPU was measured");
        return;
    }
    double pct = elapsed > 0 ? 100.0 * (double)(after - before) / ((double)elapsed * 1e6) : 0;
    if (pct > st->cpu_percent)
        FAIL(e, "scenario.cpu", st->line, st->column, -1,
             "the system under test used %.0f%% of a CPU over %lld ms (at most %g%%): a process or thread "
             "busy with nothing to do",
             pct, (long long)elapsed, st->cpu_percent);
}

static void step_expect_silence(struct engine *e, const struct scenario_step *st)
{
    struct conn *c = current(e);
    if (!c || c->fd < 0) {
        FAIL(e, "scenario.connect", st->line, st->column, -1,
             "expected silence on a connection, but none is open");
        return;
    }
    uint64_t before = c->messages_in;
    int64_t end = wire_mono_ms() + st->duration_ms;
    while (wire_mono_ms() < end && c->messages_in == before && !c->eof && !rtsp_bytes_pending(c)) {
        if (e->sut_dead) {
            sut_exited(e, st, "expecting silence");
            return;
        }
        service(e, end);
    }
    /* Whatever the silent requests were, they will get no answer now. */
    c->pend_len = 0;
    if (c->messages_in != before || rtsp_bytes_pending(c)) {
        char fl[110] = "";
        if (c->messages_in != before && c->q_len) {
            const struct msg_item *last = &c->q[(c->q_head + c->q_len - 1) % MSGQ];
            first_line(last->text ? last->text : "", last->len, fl, sizeof fl);
            /* the unexpected message is consumed here, so it does not answer a later request */
            struct msg_item item;
            while (c->q_len) {
                pop_msg(c, &item);
                msg_item_free(&item);
            }
        } else {
            first_line(c->in, c->in_len, fl, sizeof fl);
            c->in_len = 0;
            c->idle_parse = false;
        }
        FAIL(e, "scenario.silence", st->line, st->column, -1, "expected no message for %lld ms, got '%s'",
             (long long)st->duration_ms, fl);
        return;
    }
    if (c->eof)
        FAIL(e, "scenario.closed", st->line, st->column, -1,
             "expected silence for %lld ms, got the connection closed (%s)", (long long)st->duration_ms,
             c->eof_why);
}

static void stream_counts(struct engine *e, struct conn *c, uint64_t *packets, uint64_t *bytes)
{
    if (e->sc->role == SCENARIO_ROLE_CLIENT) {
        *packets = c->st.packets;
        *bytes = c->st.bytes;
    } else {
        *packets = c->rtp_packets;
        *bytes = c->rtp_bytes;
    }
}

static void step_rtp_for(struct engine *e, const struct scenario_step *st)
{
    const struct scenario_rtp_expect *rx = st->rtp;
    struct conn *c = current(e);
    int64_t start = wire_mono_ms() + rx->after_ms;
    service_until(e, start);
    struct replay_result *r = e->r;
    struct replay_rtp_window *w = grow(r->windows, &e->win_cap, r->n_windows, sizeof *w);
    if (!w)
        return;
    r->windows = w;
    w = &r->windows[r->n_windows++];
    memset(w, 0, sizeof *w);
    w->line = st->line;
    w->expect = rx;
    w->channel = -1;
    w->conn = c ? c->index : -1;
    w->harness_sends = e->sc->role == SCENARIO_ROLE_CLIENT;
    uint64_t p0 = 0, b0 = 0, p1 = 0, b1 = 0;
    if (c) {
        if (c->interleaved) {
            w->channel = c->channel_rtp;
            snprintf(w->remote, sizeof w->remote, "%s", c->remote);
        } else {
            w->rtp_port = c->rtp_port;
        }
        stream_counts(e, c, &p0, &b0);
    }
    w->start_ns = real_ns();
    int64_t end = start + rx->duration_ms;
    while (wire_mono_ms() < end && !e->sut_dead)
        service(e, end);
    w->end_ns = real_ns();
    if (c) {
        stream_counts(e, c, &p1, &b1);
        w->live_packets = p1 - p0;
        w->live_bytes = b1 - b0;
    }
    if (e->sut_dead)
        sut_exited(e, st, "an RTP window was open");
}

static int load_media(struct engine *e, const struct scenario_step *st)
{
    if (e->media)
        return 0;
    if (!e->t->media_file) {
        FAIL(e, "scenario.rtp", st->line, st->column, -1, "rtp send: no media file was given to the run");
        return -1;
    }
    char msg[256];
    if (mjpeg_read_file(e->t->media_file, MEDIA_MAX_BYTES, &e->media, &e->media_len, msg, sizeof msg) < 0) {
        FAIL(e, "scenario.rtp", st->line, st->column, -1, "rtp send: %s", msg);
        return -1;
    }
    struct mjpeg_reader rd;
    mjpeg_reader_init(&rd, e->media, e->media_len);
    rd.lenient = true;
    size_t cap = 0;
    const uint8_t *f;
    size_t fl;
    int rc;
    while ((rc = mjpeg_next(&rd, &f, &fl, NULL)) == 1) {
        if (e->n_frames == cap) {
            cap = cap ? cap * 2 : 256;
            size_t *o = realloc(e->frame_off, cap * sizeof *o);
            if (!o)
                return -1;
            e->frame_off = o;
            size_t *l = realloc(e->frame_len, cap * sizeof *l);
            if (!l)
                return -1;
            e->frame_len = l;
        }
        e->frame_off[e->n_frames] = (size_t)(f - e->media);
        e->frame_len[e->n_frames++] = fl;
    }
    if (rc < 0 || e->n_frames == 0) {
        char why[300];
        if (rc < 0)
            mjpeg_format_error(&rd, e->t->media_file, why, sizeof why);
        else
            snprintf(why, sizeof why, "%s: no frames", e->t->media_file);
        FAIL(e, "scenario.rtp", st->line, st->column, -1, "rtp send: %s", why);
        free(e->media);
        e->media = NULL;
        e->n_frames = 0;
        return -1;
    }
    return 0;
}

static void step_rtp_send(struct engine *e, const struct scenario_step *st)
{
    struct conn *c = current(e);
    if (!c || c->fd < 0) {
        FAIL(e, "scenario.rtp", st->line, st->column, -1, "rtp send: no connection");
        return;
    }
    if (!c->transport_known) {
        FAIL(e, "scenario.rtp", st->line, st->column, -1,
             "rtp send: no SETUP on connection '%s' gave a transport to stream to", c->name);
        return;
    }
    if (!c->interleaved && conn_open_media(e, c) < 0)
        return;
    if (load_media(e, st) < 0)
        return;
    struct streamer *s = &c->st;
    if (s->active)
        return;
    if (s->frames_sent == 0) {
        uint64_t x = mix64(e->t->seed ^ 0x57AEull ^ (uint64_t)c->index);
        s->ssrc = (uint32_t)x;
        s->seq = lab(e) ? 1 : (uint16_t)(x >> 32);
        s->ts_base = lab(e) ? 0 : (uint32_t)(x >> 40);
        s->frame = 0;
    }
    s->fps = st->fps > 0 ? st->fps : 20;
    s->t0_us = mono_us();
    s->k = 0;
    s->active = true;
    stream_tick(e, c);
}

static void step_close(struct engine *e, const struct scenario_step *st)
{
    struct conn *c = st->conn[0] ? conn_by_name(e, st->conn, false) : current(e);
    if (!c || (c->fd < 0 && !c->used)) {
        FAIL(e, "scenario.connect", st->line, st->column, -1, "close: the connection '%s' was never opened",
             st->conn[0] ? st->conn : "(current)");
        return;
    }
    if (c->fd >= 0) {
        conn_flush(c);
        shutdown(c->fd, SHUT_RDWR);
    }
    conn_close_fd(c);
    c->closed_by_us = true;
    c->eof = false;
    e->cur = c->index;
}

static void step_use(struct engine *e, const struct scenario_step *st)
{
    struct conn *c = conn_by_name(e, st->conn, false);
    if (!c) {
        FAIL(e, "scenario.connect", st->line, st->column, -1, "use: the connection '%s' was never opened",
             st->conn);
        return;
    }
    e->cur = c->index;
}

/* ---------- the run ---------- */

static int resolve_target(struct engine *e, char *err, size_t cap)
{
    const struct replay_target *t = e->t;
    const char *host = t->host;
    uint16_t port = t->port;
    char from_url[128] = "";
    if ((!host || !port) && t->url) {
        /* rtsp://host[:port]/... */
        const char *p = strstr(t->url, "://");
        p = p ? p + 3 : t->url;
        size_t n = strcspn(p, ":/");
        snprintf(from_url, sizeof from_url, "%.*s", (int)n, p);
        if (!host)
            host = from_url;
        if (!port)
            port = p[n] == ':' ? (uint16_t)atoi(p + n + 1) : 554;
    }
    if (!host || !host[0]) {
        snprintf(err, cap, "no target host");
        return -1;
    }
    snprintf(e->host, sizeof e->host, "%s", host);
    e->port = port;
    snprintf(e->port_text, sizeof e->port_text, "%u", port);
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    int g = getaddrinfo(host, NULL, &hints, &ai);
    if (g != 0 || !ai) {
        snprintf(err, cap, "target host %s: %s", host, gai_strerror(g));
        return -1;
    }
    memcpy(&e->target, ai->ai_addr, sizeof e->target);
    e->target.sin_port = htons(port);
    freeaddrinfo(ai);
    if (t->url)
        snprintf(e->r->url, sizeof e->r->url, "%s", t->url);
    else
        snprintf(e->r->url, sizeof e->r->url, "rtsp://%s:%u/%s", host, port, t->media ? t->media : "");
    return 0;
}

static int start_listening(struct engine *e, char *err, size_t cap)
{
    const struct replay_target *t = e->t;
    const char *host = t->host && t->host[0] ? t->host : "0.0.0.0";
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(t->port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        snprintf(err, cap, "listen address %s is not an IPv4 address", host);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    socklen_t al = sizeof a;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 16) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
        snprintf(err, cap, "listen on %s:%u: %s", host, t->port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    e->listen_fd = fd;
    e->port = ntohs(a.sin_port);
    e->r->listen_port = e->port;
    snprintf(e->port_text, sizeof e->port_text, "%u", e->port);
    snprintf(e->host, sizeof e->host, "%s", strcmp(host, "0.0.0.0") == 0 ? "127.0.0.1" : host);
    snprintf(e->r->url, sizeof e->r->url, "rtsp://%s:%u/%s", e->host, e->port, t->media ? t->media : "");
    return 0;
}

static enum scenario_on_fail effective_on_fail(const struct engine *e, const struct scenario_step *st)
{
    return st->on_fail != SCENARIO_ON_FAIL_DEFAULT ? st->on_fail : e->sc->on_fail;
}

static void run_step(struct engine *e, const struct scenario_step *st, unsigned idx)
{
    bool server = e->sc->role == SCENARIO_ROLE_SERVER;
    switch (st->kind) {
    case SCENARIO_STEP_SEND: step_send(e, idx); break;
    case SCENARIO_STEP_EXPECT:
        if (server)
            step_expect_reply(e, st);
        else
            step_expect_request(e, st);
        break;
    case SCENARIO_STEP_EXPECT_CLOSE: step_expect_close(e, st); break;
    case SCENARIO_STEP_EXPECT_SILENCE: step_expect_silence(e, st); break;
    case SCENARIO_STEP_EXPECT_CPU: step_expect_cpu(e, st); break;
    case SCENARIO_STEP_WAIT: service_until(e, wire_mono_ms() + st->duration_ms); break;
    case SCENARIO_STEP_RTP_FOR: step_rtp_for(e, st); break;
    case SCENARIO_STEP_RTP_SEND: step_rtp_send(e, st); break;
    case SCENARIO_STEP_RTP_STOP: {
        struct conn *c = current(e);
        if (c)
            c->st.active = false;
        break;
    }
    case SCENARIO_STEP_CONNECT: do_connect(e, st, st->conn[0] ? st->conn : "main"); break;
    case SCENARIO_STEP_ACCEPT: do_accept(e, st, st->conn[0] ? st->conn : "main", NULL); break;
    case SCENARIO_STEP_USE: step_use(e, st); break;
    case SCENARIO_STEP_CLOSE: step_close(e, st); break;
    }
}

static void run_steps(struct engine *e)
{
    const struct scenario *sc = e->sc;
    bool server = sc->role == SCENARIO_ROLE_SERVER;
    for (unsigned i = 0; i < sc->n_steps; i++) {
        const struct scenario_step *st = &sc->steps[i];
        struct replay_step_result *sr = e->r->steps ? &e->r->steps[i] : NULL;
        if (e->stop) {
            e->r->steps_skipped += sc->n_steps - i;
            break;
        }
        if (st->exchange >= 0 && e->exchange_skip && e->exchange_skip[st->exchange]) {
            e->r->steps_skipped++;
            if (sr)
                sr->status = REPLAY_STEP_SKIPPED;
            continue;
        }
        size_t failures_before = e->r->n_failures;
        if (sr)
            sr->start_ns = real_ns();
        e->step = st;
        e->step_failed = false;
        e->step_skipped = false;
        e->step_took_request = false;
        fire_events(e);
        if (e->time_up) /* an earlier step passed, but the scenario's time ran out in it */
            sut_exited(e, st, "this step was due");
        else
            run_step(e, st, i);
        if (e->time_up && !e->step_failed) /* a `wait` that the time limit cut short */
            sut_exited(e, st, "this step ran");
        /* A dead SUT is a failure even in an optional step (sut_exited recorded it). */
        bool skipped = e->step_skipped || (e->step_failed && st->optional && !e->sut_dead);
        if (sr) {
            sr->end_ns = real_ns();
            sr->status = skipped ? REPLAY_STEP_SKIPPED : e->step_failed ? REPLAY_STEP_FAIL : REPLAY_STEP_PASS;
            if (e->r->n_failures > failures_before) {
                sr->first_failure = (int)failures_before;
                sr->n_failures = (int)(e->r->n_failures - failures_before);
            }
        }
        if (skipped) {
            e->r->steps_skipped++;
            if (st->exchange >= 0 && e->exchange_skip)
                e->exchange_skip[st->exchange] = true;
        } else {
            e->r->steps_run++;
            if (e->step_failed) {
                /* Nothing sent, or no request came: the answer would only repeat
                 * the failure. A request that came but did not match still gets
                 * its reply, so the client can go on. */
                bool answer_pointless = st->kind == SCENARIO_STEP_SEND || (st->kind == SCENARIO_STEP_EXPECT &&
                                                                           !server && !e->step_took_request);
                if (answer_pointless && st->exchange >= 0 && e->exchange_skip)
                    e->exchange_skip[st->exchange] = true;
                if (effective_on_fail(e, st) == SCENARIO_ON_FAIL_STOP)
                    e->stop = true;
            }
        }
        e->step = NULL;
    }
}

int replay_run(const struct scenario *sc, const struct replay_target *t, const struct replay_hooks *h,
               struct replay_result *out)
{
    memset(out, 0, sizeof *out);
    struct engine *e = calloc(1, sizeof *e);
    if (!e) {
        out->verdict = REPLAY_ERROR;
        snprintf(out->error, sizeof out->error, "out of memory");
        return -1;
    }
    e->sc = sc;
    e->t = t;
    e->h = h;
    e->r = out;
    e->cur = -1;
    e->listen_fd = -1;
    e->accepted_fd = -1;
    snprintf(e->seed_text, sizeof e->seed_text, "%u", t->seed);
    snprintf(e->nonce, sizeof e->nonce, "%016llx%016llx", (unsigned long long)mix64(t->seed ^ 0x4E0ull),
             (unsigned long long)mix64(t->seed ^ 0x4E1ull));
    if (sc->n_exchanges)
        e->exchange_skip = calloc(sc->n_exchanges, sizeof *e->exchange_skip);
    if (sc->n_steps) {
        out->steps = calloc(sc->n_steps, sizeof *out->steps);
        if (out->steps) {
            out->n_steps = sc->n_steps;
            for (size_t i = 0; i < sc->n_steps; i++)
                out->steps[i].first_failure = -1;
        }
    }
    out->verdict = REPLAY_PASS;
    out->start_ns = real_ns();
    e->start_ms = wire_mono_ms();
    e->next_sut_check_ms = e->start_ms;
    int rc = 0;
    char err[256] = "";
    if (sc->role == SCENARIO_ROLE_SERVER && sc->profile == SCENARIO_PROFILE_LAB) {
        e->dialect = t->dialect ? t->dialect : sc->dialect;
        if (!e->dialect && dialect_lab(&e->own_dialect, err, sizeof err) == 0)
            e->dialect = e->own_dialect;
        if (e->dialect)
            snprintf(out->dialect, sizeof out->dialect, "%s", e->dialect->name);
    }
    bool no_dialect = sc->role == SCENARIO_ROLE_SERVER && sc->profile == SCENARIO_PROFILE_LAB && !e->dialect;
    if ((sc->n_exchanges && !e->exchange_skip) || no_dialect ||
        (sc->role == SCENARIO_ROLE_SERVER ? resolve_target(e, err, sizeof err)
                                          : start_listening(e, err, sizeof err)) < 0) {
        out->verdict = REPLAY_ERROR;
        snprintf(out->error, sizeof out->error, "%s", err[0] ? err : "out of memory");
        rc = -1;
    } else if (sc->role == SCENARIO_ROLE_CLIENT && h && h->listening &&
               h->listening(h->ctx, out->url, err, sizeof err) < 0) {
        out->verdict = REPLAY_ERROR;
        snprintf(out->error, sizeof out->error, "starting the client under test: %s",
                 err[0] ? err : "failed");
        rc = -1;
    } else {
        run_steps(e);
        if (out->n_failures && out->verdict == REPLAY_PASS)
            out->verdict = REPLAY_FAIL;
    }
    /* Flush what is queued (a last reply), then close everything. */
    for (unsigned i = 0; i < e->n_conns; i++) {
        struct conn *c = &e->conns[i];
        c->st.active = false;
        if (c->fd >= 0 && outbuf_pending(&c->out) && !c->eof) {
            int64_t until = wire_mono_ms() + 200;
            while (outbuf_pending(&c->out) && !c->write_failed && wire_mono_ms() < until) {
                struct pollfd p = {.fd = c->fd, .events = POLLOUT};
                if (poll(&p, 1, 20) > 0)
                    conn_flush(c);
            }
        }
        conn_close_fd(c);
        while (c->q_len) {
            msg_item_free(&c->q[c->q_head]);
            c->q_head = (c->q_head + 1) % MSGQ;
            c->q_len--;
        }
        if (c->rtp_fd >= 0)
            close(c->rtp_fd);
        if (c->rtcp_fd >= 0)
            close(c->rtcp_fd);
        free(c->in);
        outbuf_free(&c->out);
    }
    if (e->accepted_fd >= 0)
        close(e->accepted_fd);
    if (e->listen_fd >= 0)
        close(e->listen_fd);
    for (unsigned i = 0; i < e->n_vars; i++)
        free(e->vars[i].value);
    free(e->media);
    free(e->frame_off);
    free(e->frame_len);
    free(e->exchange_skip);
    dialect_free(e->own_dialect);
    free(e);
    out->end_ns = real_ns();
    return rc;
}

void replay_result_free(struct replay_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_exchanges; i++) {
        free(r->exchanges[i].request_text);
        free(r->exchanges[i].response_text);
    }
    free(r->exchanges);
    free(r->failures);
    free(r->windows);
    free(r->steps);
    memset(r, 0, sizeof *r);
}
