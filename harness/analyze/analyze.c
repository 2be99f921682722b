/* The analyzer's pass over a capture: see analyze.h. This file holds the
 * RTSP side (messages out of reassembled TCP, their checks, the session
 * state machine and the bindings SETUP creates) and the dispatch of UDP and
 * interleaved packets to RTP/RTCP streams. */
#include "analyze.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rtcp.h"
#include "rtp.h"
#include "rtsp.h"
#include "rtsp_hdr.h"
#include "ipreasm.h"
#include "sdp.h"
#include "tcpreasm.h"

#define MAX_HEADERS 64          /* headers per RTSP message */
#define MAX_PENDING 16          /* requests awaiting a response per connection */
#define MAX_BINDINGS 8192       /* SETUP bindings tracked */
#define MAX_CHUNKS 64           /* frame markers kept per direction buffer */
#define MAX_SESSIONS_PER_CONN 16 /* sessions tracked per connection */
#define MAX_FLOWS 65536         /* UDP flows tracked */
#define GSO_MIN_DATAGRAM 1472   /* larger UDP payloads do not fit one 1500-byte Ethernet packet */
#define GSO_MAX_SEGMENT 9000    /* a GSO segment fits a jumbo frame */

enum sess_state { SS_INIT, SS_READY, SS_PLAYING };

struct binding;

/* An RTSP session seen on a connection. */
struct sess {
    char id[72];             /* id from SETUP's reply */
    enum sess_state state;   /* RFC 2326 A.1 server state */
    struct binding *bindings[4]; /* tracks set up */
    size_t n_bindings;       /* entries used */
};

/* Where a SETUP said RTP and RTCP go. */
struct binding {
    struct conn *conn;              /* the RTSP connection */
    struct sess *sess;              /* its session */
    bool tcp;                       /* interleaved */
    uint8_t ch_rtp, ch_rtcp;        /* interleaved channels */
    struct pkt_endpoint client_ip;  /* client address (port unused) */
    struct pkt_endpoint server_ip;  /* server address (port unused) */
    uint16_t client_rtp, client_rtcp; /* client ports */
    uint16_t server_rtp, server_rtcp; /* server ports, 0 when not given */
    int expected_pt;                /* from the SDP, -1 unknown */
    uint32_t clock_rate;            /* from the SDP, 0 unknown */
    double fps;                     /* from the SDP, 0 unknown */
    bool lab;                       /* lab dialect */
    bool record;                    /* mode=record: media flows from the client to the server */
    bool quiet;                     /* after a PAUSE/TEARDOWN reply */
    int64_t quiet_since_ns;         /* that reply's time */
    enum check_id quiet_why;        /* pause or teardown */
    uint64_t quiet_frame;           /* that reply's frame */
    size_t streams[16];             /* indexes of streams bound to it */
    size_t n_streams;               /* entries used */
};

/* A frame marker: bytes from offset on came in frame. */
struct chunk {
    size_t offset;  /* offset in the direction buffer */
    uint64_t frame; /* pcap frame */
    int64_t ts_ns;  /* its time */
};

/* One direction of an RTSP connection. */
struct dir {
    uint8_t *buf;                 /* bytes not yet parsed */
    size_t len;                   /* bytes in buf */
    size_t cap;                   /* allocated */
    struct chunk chunks[MAX_CHUNKS]; /* where segments started */
    size_t n_chunks;              /* entries used */
    bool is_client;               /* sends requests */
    bool desync;                  /* after a gap: skip to the next message start */
    bool after_body;              /* the last message had a body (for rtsp.content-length) */
    uint32_t last_content_length; /* its Content-Length */
};

/* A request awaiting its response. */
struct pending {
    enum rtsp_method method;  /* parsed method */
    char method_text[24];     /* as sent */
    bool has_cseq;            /* carried a CSeq */
    uint32_t cseq;            /* its value */
    uint64_t frame;           /* its frame */
    size_t exchange;          /* index in the report's exchanges, SIZE_MAX when not kept */
    struct sess *sess;        /* session named, NULL for none/unknown */
    char session_sent[72];    /* Session id sent */
    bool session_unknown;     /* the id was never given by the server */
    struct rtsp_transport offered[4]; /* SETUP: Transport alternatives (slices invalid after parse) */
    size_t n_offered;         /* entries used */
    char offered_text[512];   /* the Transport header as sent, for matching */
    char uri[512];            /* request URI */
};

/* One RTSP connection being tracked. */
struct conn {
    size_t index;                 /* in analysis->connections */
    struct pkt_endpoint a, b;     /* endpoints as first seen */
    struct dir dirs[2];           /* 0: a -> b, 1: b -> a */
    int client_dir;               /* -1 unknown, else the index sending requests */
    bool lab;                     /* lab dialect */
    bool decided;                 /* dialect decided */
    struct pending pending[MAX_PENDING]; /* requests awaiting responses */
    size_t n_pending;             /* entries used */
    bool have_cseq;               /* a client CSeq was seen */
    uint32_t last_cseq;           /* the last one */
    struct sess sessions[MAX_SESSIONS_PER_CONN]; /* sessions */
    size_t n_sessions;            /* entries used */
    uint32_t public_mask;         /* methods in Public, 0 when no OPTIONS reply */
    bool have_public;             /* an OPTIONS reply with Public was seen */
    uint64_t public_frame;        /* that reply's frame */
    uint32_t answered_ok;         /* methods answered 2xx */
    int sdp_pt;                   /* PT of the last SDP's video, -1 */
    uint32_t sdp_clock;           /* its clock rate, 0 */
    double sdp_fps;               /* its a=framerate, 0 */
    uint32_t channels_used;       /* interleaved channels bound (bits 0..31) */
    char label[140];              /* "client -> server" for findings */
    struct istream {
        uint8_t channel;          /* interleaved channel */
        uint32_t ssrc;            /* SSRC as in the packets */
        size_t stream;            /* index in analysis->streams */
    } istreams[16];               /* RTP streams carried on this connection */
    size_t n_istreams;            /* entries used */
};

/* A UDP flow (5-tuple, one direction). */
struct flow {
    struct pkt_endpoint src, dst; /* addresses and ports */
    enum { FLOW_UNKNOWN, FLOW_RTP, FLOW_RTCP, FLOW_IGNORED } kind; /* what it carries */
    struct binding *binding;      /* when bound by SETUP */
    const char *bound_by;         /* "setup", "rtp-port", "heuristic" */
    size_t streams[8];            /* stream indexes by SSRC */
    uint32_t ssrcs[8];            /* their SSRCs */
    size_t n_streams;             /* entries used */
    struct flow *next;            /* hash chain */
};

/* Everything during the pass. */
struct pass {
    struct analysis *a;           /* the result */
    const struct analyze_opts *opts; /* options */
    struct conn **conns;          /* tracked connections */
    size_t n_conns;               /* entries used */
    struct binding *bindings[MAX_BINDINGS]; /* SETUP bindings */
    size_t n_bindings;            /* entries used */
    struct flow *flow_hash[4096]; /* UDP flows */
    size_t n_flows;               /* flows tracked */
    uint64_t flows_dropped;       /* flows over MAX_FLOWS */
    bool any_rtsp;                /* RTSP seen: no heuristic binding */
};

/* ---------- helpers ---------- */

static bool ep_same_ip(const struct pkt_endpoint *x, const struct pkt_endpoint *y)
{
    return x->family == y->family && memcmp(x->addr, y->addr, 16) == 0;
}

static void copy_str(char *dst, size_t cap, struct wire_str s)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    if (s.ptr && n)
        memcpy(dst, s.ptr, n);
    dst[s.ptr ? n : 0] = 0;
}

/* ---------- streams ---------- */

static size_t stream_new(struct pass *p, const struct flow *f, bool interleaved, int channel,
                         uint32_t ssrc, struct binding *b, const char *bound_by,
                         const struct conn *c)
{
    struct analysis *a = p->a;
    if (a->n_streams == ANALYZE_MAX_STREAMS)
        return SIZE_MAX;
    if (a->n_streams % 64 == 0) {
        struct analyze_stream *bigger =
            realloc(a->streams, (a->n_streams + 64) * sizeof *bigger);
        if (!bigger)
            return SIZE_MAX;
        a->streams = bigger;
    }
    struct analyze_stream *s = &a->streams[a->n_streams];
    memset(s, 0, sizeof *s);
    s->interleaved = interleaved;
    s->channel = channel;
    if (f) {
        pkt_endpoint_format(&f->src, s->src, sizeof s->src);
        pkt_endpoint_format(&f->dst, s->dst, sizeof s->dst);
    } else if (c) {
        const struct pkt_endpoint *server = c->client_dir == 0 ? &c->b : &c->a;
        const struct pkt_endpoint *client = c->client_dir == 0 ? &c->a : &c->b;
        pkt_endpoint_format(server, s->src, sizeof s->src);
        pkt_endpoint_format(client, s->dst, sizeof s->dst);
    }
    if (b && b->sess)
        snprintf(s->session, sizeof s->session, "%s", b->sess->id);
    s->bound_by = bound_by;
    struct rtp_stream_opts o = {
        .expected_pt = b ? b->expected_pt : -1,
        .clock_rate = b ? b->clock_rate : 0,
        .lab = b ? b->lab : false,
        .nominal_fps = b ? b->fps : 0,
        .decode = p->opts->decode,
        .series = p->opts->series,
        .reference = p->opts->reference,
    };
    if (!b && p->opts->profile_given && p->opts->profile == PROFILE_LAB)
        o.lab = true;
    char where[FINDING_WHERE_MAX + 160];
    if (interleaved)
        snprintf(where, sizeof where, "%s -> %s ch %d ssrc 0x%08x", s->src, s->dst, channel, ssrc);
    else
        snprintf(where, sizeof where, "%s -> %s ssrc 0x%08x", s->src, s->dst, ssrc);
    s->rtp = rtp_stream_new(&o, where);
    if (!s->rtp)
        return SIZE_MAX;
    size_t index = a->n_streams++;
    if (b && b->n_streams < sizeof b->streams / sizeof b->streams[0]) {
        b->streams[b->n_streams++] = index;
        if (b->quiet)
            rtp_stream_quiet(s->rtp, b->quiet_since_ns, b->quiet_why, b->quiet_frame);
    }
    return index;
}

/* An RTP packet for a flow or channel: find or make the SSRC's stream. */
static void rtp_in(struct pass *p, struct flow *f, struct conn *c, int channel, struct binding *b,
                   const char *bound_by, const uint8_t *pkt, size_t len, size_t wire_len, int64_t ts_ns,
                   uint64_t frame)
{
    /* A window (the run's `rtp for` evaluation): RTP outside it is not
     * measured; RTSP and RTCP still are, so bindings stay right. Packets
     * reordered across its edges are sorted out below, once the stream is
     * known, so that reordering is not counted as loss (or as negative
     * loss). */
    bool late = false;
    if (p->opts->window_end_ns) {
        if (ts_ns < p->opts->window_start_ns || ts_ns > p->opts->window_end_ns + ANALYZE_WINDOW_LATE_NS)
            return;
        late = ts_ns > p->opts->window_end_ns;
    }
    uint32_t ssrc = len >= 12 ? ((uint32_t)pkt[8] << 24 | (uint32_t)pkt[9] << 16 |
                                 (uint32_t)pkt[10] << 8 | pkt[11])
                              : 0;
    size_t idx = SIZE_MAX;
    if (!f) {
        /* Interleaved: the connection keys its streams by channel and SSRC. */
        size_t on_channel = 0;
        for (size_t i = 0; i < c->n_istreams; i++) {
            if (c->istreams[i].channel != channel)
                continue;
            on_channel++;
            if (c->istreams[i].ssrc == ssrc) {
                idx = c->istreams[i].stream;
                break;
            }
        }
        if (idx == SIZE_MAX) {
            if (c->n_istreams == sizeof c->istreams / sizeof c->istreams[0])
                return;
            idx = stream_new(p, NULL, true, channel, ssrc, b, bound_by, c);
            if (idx == SIZE_MAX)
                return;
            c->istreams[c->n_istreams++] = (struct istream){(uint8_t)channel, ssrc, idx};
            if (on_channel)
                findings_add(&p->a->findings, CHK_RTP_SSRC_CHANGE, frame, 0, c->label,
                             "interleaved channel %d: a new SSRC 0x%08x", channel, ssrc);
        }
    } else {
        size_t n = f->n_streams;
        for (size_t i = 0; i < n; i++)
            if (f->ssrcs[i] == ssrc) {
                idx = f->streams[i];
                break;
            }
        /* A lab flow stays one stream whatever its SSRC does: the lab's
         * client never reads the SSRC, so a changing one is a defect of its
         * own, not a new stream (and a new SSRC per packet must not use up
         * the flow's streams). */
        bool lab_flow = b ? b->lab : (p->opts->profile_given && p->opts->profile == PROFILE_LAB);
        if (idx == SIZE_MAX && lab_flow && n > 0) {
            idx = f->streams[0];
            char where[160], s1[64], s2[64];
            pkt_endpoint_format(&f->src, s1, sizeof s1);
            pkt_endpoint_format(&f->dst, s2, sizeof s2);
            snprintf(where, sizeof where, "%s -> %s", s1, s2);
            findings_add(&p->a->findings, CHK_RTP_SSRC_CHANGE, frame, 0, where,
                         "SSRC changed from 0x%08x to 0x%08x within one flow", f->ssrcs[0], ssrc);
            f->ssrcs[0] = ssrc;
        }
        if (idx == SIZE_MAX) {
            if (n == sizeof f->streams / sizeof f->streams[0])
                return;
            idx = stream_new(p, f, false, -1, ssrc, b, bound_by, NULL);
            if (idx == SIZE_MAX)
                return;
            if (n > 0) {
                char where[160], s1[64], s2[64];
                pkt_endpoint_format(&f->src, s1, sizeof s1);
                pkt_endpoint_format(&f->dst, s2, sizeof s2);
                snprintf(where, sizeof where, "%s -> %s", s1, s2);
                findings_add(&p->a->findings, CHK_RTP_SSRC_CHANGE, frame, 0, where,
                             "SSRC changed from 0x%08x to 0x%08x within one flow", f->ssrcs[n - 1],
                             ssrc);
            }
            f->streams[n] = idx;
            f->ssrcs[n] = ssrc;
            f->n_streams++;
        }
    }
    if (p->opts->window_end_ns && len >= 4) {
        /* The window holds the packets sent during it: a late one that was
         * overtaken, not one sent before the window that arrives inside it. */
        struct rtp_stream *rs = p->a->streams[idx].rtp;
        uint16_t seq = wire_get_be16(pkt + 2);
        if (late ? !rtp_stream_seq_behind(rs, seq) : rtp_stream_seq_before_first(rs, seq))
            return;
    }
    rtp_stream_packet_cut(p->a->streams[idx].rtp, pkt, len, wire_len, ts_ns, frame, &p->a->findings);
}

/* RTCP from the server: sender reports are checked against the RTP seen. */
static void rtcp_in(struct pass *p, struct binding *b, const char *where, const uint8_t *pkt,
                    size_t len, uint64_t frame)
{
    struct rtcp_iter it;
    struct rtcp_packet rp;
    struct wire_error err;
    rtcp_iter_init(&it, pkt, len, RTCP_REDUCED_SIZE);
    int rc;
    while ((rc = rtcp_iter_next(&it, &rp, &err)) > 0) {
        if (rp.packet_type != RTCP_SR || !b)
            continue;
        for (size_t i = 0; i < b->n_streams; i++) {
            struct rtp_stream *s = p->a->streams[b->streams[i]].rtp;
            if (rtp_stream_metrics(s)->ssrc == rp.ssrc)
                rtp_stream_sender_report(s, &rp.sender, frame, &p->a->findings);
        }
    }
    if (rc < 0)
        findings_add(&p->a->findings, CHK_RTCP_MALFORMED, frame, 0, where,
                     "RTCP compound rejected: %s at byte %zu", err.reason, err.offset);
}

/* ---------- RTSP ---------- */

static struct sess *sess_find(struct conn *c, struct wire_str id)
{
    for (size_t i = 0; i < c->n_sessions; i++)
        if (strlen(c->sessions[i].id) == id.len && memcmp(c->sessions[i].id, id.ptr, id.len) == 0)
            return &c->sessions[i];
    return NULL;
}

/* Any connection's session with that id (sessions may move between connections). */
static struct sess *sess_find_any(struct pass *p, struct conn *c, struct wire_str id)
{
    struct sess *s = sess_find(c, id);
    for (size_t i = 0; !s && i < p->n_conns; i++)
        s = sess_find(p->conns[i], id);
    return s;
}

static void dir_frame(const struct dir *d, size_t offset, uint64_t *frame, int64_t *ts_ns)
{
    *frame = 0;
    *ts_ns = 0;
    for (size_t i = 0; i < d->n_chunks; i++) {
        if (d->chunks[i].offset > offset)
            break;
        *frame = d->chunks[i].frame;
        *ts_ns = d->chunks[i].ts_ns;
    }
}

static void dir_consume(struct dir *d, size_t n)
{
    if (n > d->len)
        n = d->len;
    memmove(d->buf, d->buf + n, d->len - n);
    d->len -= n;
    size_t j = 0;
    for (size_t i = 0; i < d->n_chunks; i++) {
        bool keep = d->chunks[i].offset >= n ||
                    (i + 1 < d->n_chunks ? d->chunks[i + 1].offset > n : d->len > 0);
        if (!keep)
            continue;
        d->chunks[j] = d->chunks[i];
        d->chunks[j].offset = d->chunks[i].offset >= n ? d->chunks[i].offset - n : 0;
        j++;
    }
    d->n_chunks = j;
}

static struct binding *binding_for_channel(struct pass *p, struct conn *c, uint8_t channel,
                                           bool *is_rtcp)
{
    for (size_t i = p->n_bindings; i-- > 0;) {
        struct binding *b = p->bindings[i];
        if (b->conn != c || !b->tcp)
            continue;
        if (b->ch_rtp == channel) {
            *is_rtcp = false;
            return b;
        }
        if (b->ch_rtcp == channel) {
            *is_rtcp = true;
            return b;
        }
    }
    return NULL;
}

static void interleaved_in(struct pass *p, struct conn *c, const struct rtsp_interleaved *f,
                           uint64_t frame, int64_t ts_ns)
{
    bool is_rtcp = false;
    struct binding *b = binding_for_channel(p, c, f->channel, &is_rtcp);
    if (!b) {
        /* No SETUP seen for the channel (capture started late): even
         * channels are RTP by convention (RFC 2326 10.12). */
        is_rtcp = f->channel % 2;
    }
    if (is_rtcp)
        rtcp_in(p, b, c->label, f->payload, f->len, frame);
    else if (f->len >= 12)
        rtp_in(p, NULL, c, f->channel, b, b ? "setup" : "heuristic", f->payload, f->len, f->len, ts_ns,
               frame);
}

static struct analyze_exchange *exchange_at(struct pass *p, struct conn *c, size_t i)
{
    if (i == SIZE_MAX)
        return NULL;
    return &p->a->connections[c->index].exchanges[i];
}

static size_t exchange_new(struct pass *p, struct conn *c)
{
    struct analyze_connection *ac = &p->a->connections[c->index];
    ac->requests++;
    if (ac->n_exchanges == ANALYZE_MAX_EXCHANGES)
        return SIZE_MAX;
    if (ac->n_exchanges == ac->cap_exchanges) {
        size_t cap = ac->cap_exchanges ? ac->cap_exchanges * 2 : 16;
        struct analyze_exchange *bigger = realloc(ac->exchanges, cap * sizeof *bigger);
        if (!bigger)
            return SIZE_MAX;
        ac->exchanges = bigger;
        ac->cap_exchanges = cap;
    }
    memset(&ac->exchanges[ac->n_exchanges], 0, sizeof ac->exchanges[0]);
    return ac->n_exchanges++;
}

/* The SDP of a DESCRIBE reply: payload type, clock and frame rate of the video. */
static void read_sdp(struct conn *c, struct wire_str body)
{
    struct sdp_media media[8];
    struct sdp_attr attrs[64];
    struct sdp_finding found[16];
    struct sdp_session s;
    struct wire_error err;
    sdp_session_init(&s, media, 8, attrs, 64, found, 16);
    if (sdp_parse(body.ptr, body.len, &s, &err) < 0)
        return;
    for (size_t i = 0; i < s.media_count; i++) {
        struct wire_str fmts = media[i].fmts;
        struct wire_str fmt;
        if (!sdp_fmt_next(&fmts, &fmt))
            continue;
        uint64_t pt;
        if (!wire_parse_u64(fmt, 127, &pt))
            continue;
        c->sdp_pt = (int)pt;
        struct sdp_rtpmap map;
        c->sdp_clock = sdp_media_rtpmap(&s, &media[i], (unsigned)pt, &map) ? map.clock_rate
                       : pt == 26                                          ? 90000
                                                                           : 0;
        struct sdp_framerate fr;
        if (sdp_media_framerate(&s, &media[i], &fr))
            c->sdp_fps = fr.fps;
        return;
    }
}

/* v without its ";name=..." parameter, copied into buf. */
static struct wire_str strip_param(struct wire_str v, const char *name, char *buf, size_t cap)
{
    size_t o = 0, nlen = strlen(name);
    const char *p = v.ptr, *end = v.ptr + v.len;
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *stop = semi ? semi : end;
        const char *q = p;
        while (q < stop && *q == ' ')
            q++;
        bool drop = p != v.ptr && (size_t)(stop - q) >= nlen && strncasecmp(q, name, nlen) == 0 &&
                    (q + nlen == stop || q[nlen] == '=' || q[nlen] == ' ');
        if (!drop) {
            size_t len = (size_t)(stop - p);
            if (o + len + 2 > cap)
                return (struct wire_str){NULL, 0};
            if (o)
                buf[o++] = ';';
            memcpy(buf + o, p, len);
            o += len;
        }
        p = semi ? semi + 1 : end;
    }
    return (struct wire_str){buf, o};
}

/* A SETUP reply's Transport: bind UDP ports or interleaved channels. */
static void bind_setup(struct pass *p, struct conn *c, struct pending *q, struct sess *s,
                       const struct rtsp_msg *msg, uint64_t frame)
{
    struct findings *f = &p->a->findings;
    const struct wire_str *tv = rtsp_msg_header(msg, "Transport");
    struct rtsp_transport t;
    size_t n = 0;
    struct wire_error err;
    struct wire_str offered_text = {q->offered_text, strlen(q->offered_text)};
    if (!tv) {
        /* Lab servers answer SETUP with CSeq and Session only: the client's
         * offer is what happens. */
        findings_add(f, CHK_RTSP_TRANSPORT_MISSING, frame, 0, c->label,
                     "200 reply to SETUP (CSeq %u) has no Transport header", q->cseq);
        if (!c->lab || q->n_offered == 0)
            return;
        tv = &offered_text;
    }
    char stripped[512];
    if (rtsp_parse_transport(*tv, RTSP_LENIENT, &t, 1, &n, NULL, &err) < 0 || n != 1) {
        findings_add(f, CHK_RTSP_TRANSPORT_SYNTAX, frame, 0, c->label,
                     "reply Transport does not parse (%s): %.*s", err.reason, (int)tv->len, tv->ptr);
        /* Bind anyway from the parts that do parse: ffmpeg's RECORD
         * listener answers mode=receive, which is not a method. */
        struct wire_str w = strip_param(*tv, "mode", stripped, sizeof stripped);
        if (!w.ptr || rtsp_parse_transport(w, RTSP_LENIENT, &t, 1, &n, NULL, &err) < 0 || n != 1)
            return;
    }
    /* One of the offered: same lower transport and cast. */
    const struct rtsp_transport *match = NULL;
    for (size_t i = 0; i < q->n_offered; i++)
        if (q->offered[i].lower_kind == t.lower_kind && q->offered[i].multicast == t.multicast)
            match = &q->offered[i];
    if (q->n_offered && !match)
        findings_add(f, CHK_RTSP_TRANSPORT_CHOICE, frame, 0, c->label,
                     "reply Transport %.*s is none of those offered: %s", (int)tv->len, tv->ptr,
                     q->offered_text);
    if (p->n_bindings == MAX_BINDINGS)
        return;
    struct binding *b = calloc(1, sizeof *b);
    if (!b)
        return;
    b->conn = c;
    b->sess = s;
    b->lab = c->lab;
    b->expected_pt = c->sdp_pt;
    b->clock_rate = c->sdp_clock;
    b->fps = c->sdp_fps;
    const struct pkt_endpoint *client = c->client_dir == 0 ? &c->a : &c->b;
    const struct pkt_endpoint *server = c->client_dir == 0 ? &c->b : &c->a;
    b->client_ip = *client;
    b->server_ip = *server;
    b->record = (t.mode_methods & RTSP_METHOD_BIT(RTSP_METHOD_RECORD)) ||
                (match && (match->mode_methods & RTSP_METHOD_BIT(RTSP_METHOD_RECORD)));
    if (t.lower_kind == RTSP_LOWER_TCP) {
        b->tcp = true;
        if (t.interleaved.count == 0) {
            findings_add(f, CHK_RTSP_TRANSPORT_INTERLEAVED, frame, 0, c->label,
                         "TCP transport without interleaved= channels");
            b->ch_rtp = 0;
            b->ch_rtcp = 1;
        } else {
            b->ch_rtp = (uint8_t)t.interleaved.first;
            b->ch_rtcp = (uint8_t)(t.interleaved.count == 2 ? t.interleaved.second
                                                             : t.interleaved.first + 1);
            bool bad = t.interleaved.first > 255 || (t.interleaved.count == 2 &&
                                                     (t.interleaved.second > 255 ||
                                                      t.interleaved.second == t.interleaved.first));
            uint32_t bits = 0;
            if (b->ch_rtp < 32)
                bits |= 1u << b->ch_rtp;
            if (b->ch_rtcp < 32)
                bits |= 1u << b->ch_rtcp;
            if (bad || (c->channels_used & bits))
                findings_add(f, CHK_RTSP_TRANSPORT_INTERLEAVED, frame, 0, c->label,
                             "interleaved=%u-%u is %s", t.interleaved.first,
                             t.interleaved.count == 2 ? t.interleaved.second : t.interleaved.first + 1,
                             bad ? "not a valid pair" : "already used by another track");
            c->channels_used |= bits;
        }
    } else {
        const struct rtsp_pair *cp = t.client_port.count ? &t.client_port
                                     : match              ? &match->client_port
                                                          : NULL;
        if (!cp || cp->count == 0) {
            findings_add(f, CHK_RTSP_TRANSPORT_CLIENT_PORT, frame, 0, c->label,
                         "UDP transport without client_port");
            free(b);
            return;
        }
        if (match && match->client_port.count &&
            (t.client_port.count == 0 || t.client_port.first != match->client_port.first))
            findings_add(f, CHK_RTSP_TRANSPORT_CLIENT_PORT, frame, 0, c->label,
                         "client_port offered %u, reply %s", match->client_port.first,
                         t.client_port.count ? "changed it" : "does not echo it");
        b->client_rtp = cp->first;
        b->client_rtcp = cp->count == 2 ? cp->second : (uint16_t)(cp->first + 1);
        if (t.server_port.count) {
            b->server_rtp = t.server_port.first;
            b->server_rtcp = t.server_port.count == 2 ? t.server_port.second
                                                      : (uint16_t)(t.server_port.first + 1);
        }
        if (tv != &offered_text &&
            (t.server_port.count != 2 || t.server_port.first % 2 ||
             t.server_port.second != t.server_port.first + 1))
            findings_add(f, CHK_RTSP_TRANSPORT_SERVER_PORT, frame, 0, c->label,
                         "server_port %s: %.*s",
                         t.server_port.count ? "is not an even/odd pair" : "missing",
                         (int)tv->len, tv->ptr);
    }
    if (s && s->n_bindings < 4)
        s->bindings[s->n_bindings++] = b;
    p->bindings[p->n_bindings++] = b;
}

static void session_quiet(struct pass *p, struct sess *s, enum check_id why, int64_t ts_ns,
                          uint64_t frame)
{
    for (size_t i = 0; s && i < s->n_bindings; i++) {
        struct binding *b = s->bindings[i];
        b->quiet = true;
        b->quiet_since_ns = ts_ns;
        b->quiet_why = why;
        b->quiet_frame = frame;
        for (size_t k = 0; k < b->n_streams; k++)
            rtp_stream_quiet(p->a->streams[b->streams[k]].rtp, ts_ns, why, frame);
    }
}

static void session_resume(struct pass *p, struct sess *s, uint64_t frame)
{
    for (size_t i = 0; s && i < s->n_bindings; i++) {
        struct binding *b = s->bindings[i];
        if (!b->quiet)
            continue;
        b->quiet = false;
        for (size_t k = 0; k < b->n_streams; k++)
            rtp_stream_resume(p->a->streams[b->streams[k]].rtp, frame);
    }
}

static void on_request(struct pass *p, struct conn *c, const struct rtsp_msg *msg, uint64_t frame,
                       int64_t ts_ns)
{
    (void)ts_ns;
    struct findings *f = &p->a->findings;
    struct wire_error err;
    if (c->n_pending == MAX_PENDING) {
        /* A server that never answers: the oldest request is unanswered. */
        findings_add(f, CHK_RTSP_UNANSWERED, c->pending[0].frame, 0, c->label,
                     "%s (CSeq %u) got no response before %d later requests",
                     c->pending[0].method_text, c->pending[0].cseq, MAX_PENDING);
        memmove(c->pending, c->pending + 1, (MAX_PENDING - 1) * sizeof c->pending[0]);
        c->n_pending--;
    }
    struct pending *q = &c->pending[c->n_pending++];
    memset(q, 0, sizeof *q);
    q->method = msg->method_id;
    copy_str(q->method_text, sizeof q->method_text, msg->method);
    copy_str(q->uri, sizeof q->uri, msg->uri);
    q->frame = frame;
    const struct wire_str *cv = rtsp_msg_header(msg, "CSeq");
    if (cv && rtsp_parse_cseq(*cv, RTSP_LENIENT, &q->cseq, NULL, &err) >= 0) {
        q->has_cseq = true;
        if (c->have_cseq && q->cseq <= c->last_cseq)
            findings_add(f, CHK_RTSP_CSEQ_ORDER, frame, 0, c->label,
                         "%s has CSeq %u after CSeq %u", q->method_text, q->cseq, c->last_cseq);
        c->have_cseq = true;
        c->last_cseq = q->cseq;
    } else {
        findings_add(f, CHK_RTSP_CSEQ_MISSING, frame, 0, c->label, "%s request %s", q->method_text,
                     cv ? "has a CSeq that is not a number" : "has no CSeq");
    }
    const struct wire_str *sv = rtsp_msg_header(msg, "Session");
    if (sv) {
        struct rtsp_session sp;
        if (rtsp_parse_session(*sv, RTSP_LENIENT, &sp, NULL, &err) >= 0) {
            copy_str(q->session_sent, sizeof q->session_sent, sp.id);
            q->sess = sess_find_any(p, c, sp.id);
            q->session_unknown = q->sess == NULL;
            if (!q->sess && c->n_sessions > 0)
                findings_add(f, CHK_RTSP_SESSION_CHANGED, frame, 0, c->label,
                             "%s sends Session %.*s; SETUP returned %s", q->method_text,
                             (int)sp.id.len, sp.id.ptr, c->sessions[c->n_sessions - 1].id);
        }
    } else if (c->n_sessions > 0 &&
               (q->method == RTSP_METHOD_PLAY || q->method == RTSP_METHOD_PAUSE ||
                q->method == RTSP_METHOD_TEARDOWN)) {
        findings_add(f, CHK_RTSP_SESSION_MISSING, frame, 0, c->label,
                     "%s without the Session header (SETUP returned %s)", q->method_text,
                     c->sessions[c->n_sessions - 1].id);
    }
    if (q->method == RTSP_METHOD_SETUP) {
        const struct wire_str *tv = rtsp_msg_header(msg, "Transport");
        if (!tv)
            findings_add(f, CHK_RTSP_TRANSPORT_MISSING, frame, 0, c->label,
                         "SETUP without a Transport header");
        else {
            copy_str(q->offered_text, sizeof q->offered_text, *tv);
            /* Re-parse from the copy so the slices outlive the message. */
            struct wire_str copy = {q->offered_text, strlen(q->offered_text)};
            if (rtsp_parse_transport(copy, RTSP_LENIENT, q->offered, 4, &q->n_offered, NULL,
                                     &err) < 0)
                q->n_offered = 0;
        }
    }
    if (q->method == RTSP_METHOD_PLAY && q->sess)
        session_resume(p, q->sess, frame);
    q->exchange = exchange_new(p, c);
    struct analyze_exchange *x = exchange_at(p, c, q->exchange);
    if (x) {
        x->frame = frame;
        snprintf(x->method, sizeof x->method, "%s", q->method_text);
        snprintf(x->uri, sizeof x->uri, "%s", q->uri);
        x->has_cseq = q->has_cseq;
        x->cseq = q->cseq;
        snprintf(x->session, sizeof x->session, "%s", q->session_sent);
    }
}

static void on_response(struct pass *p, struct conn *c, const struct rtsp_msg *msg, uint64_t frame,
                        int64_t ts_ns)
{
    struct findings *f = &p->a->findings;
    struct wire_error err;
    uint32_t cseq = 0;
    const struct wire_str *cv = rtsp_msg_header(msg, "CSeq");
    bool has_cseq = cv && rtsp_parse_cseq(*cv, RTSP_LENIENT, &cseq, NULL, &err) >= 0;
    if (!has_cseq)
        findings_add(f, CHK_RTSP_CSEQ_MISSING, frame, 0, c->label, "RTSP/1.0 %d response %s",
                     msg->status, cv ? "has a CSeq that is not a number" : "has no CSeq");
    if (c->n_pending == 0) {
        findings_add(f, CHK_RTSP_RESPONSE_ORDER, frame, 0, c->label,
                     "response %d (CSeq %u) to no outstanding request", msg->status, cseq);
        return;
    }
    size_t at = 0;
    if (has_cseq && (!c->pending[0].has_cseq || c->pending[0].cseq != cseq)) {
        size_t later = SIZE_MAX;
        for (size_t i = 1; i < c->n_pending; i++)
            if (c->pending[i].has_cseq && c->pending[i].cseq == cseq)
                later = i;
        if (later != SIZE_MAX) {
            findings_add(f, CHK_RTSP_RESPONSE_ORDER, frame, 0, c->label,
                         "response to CSeq %u came before the response to CSeq %u", cseq,
                         c->pending[0].cseq);
            at = later;
        } else {
            findings_add(f, CHK_RTSP_CSEQ_ECHO, frame, 0, c->label,
                         "response to %s (CSeq %u) carries CSeq %u", c->pending[0].method_text,
                         c->pending[0].cseq, cseq);
        }
    }
    struct pending q = c->pending[at];
    memmove(c->pending + at, c->pending + at + 1, (c->n_pending - at - 1) * sizeof q);
    c->n_pending--;
    struct analyze_exchange *x = exchange_at(p, c, q.exchange);
    if (x) {
        x->status = msg->status;
        x->response_frame = frame;
    }
    int st = msg->status;
    bool ok = st >= 200 && st < 300;
    if (st >= 400)
        findings_add(f, CHK_RTSP_STATUS, frame, 0, c->label, "%s (CSeq %u) answered %d %.*s",
                     q.method_text, q.cseq, st, (int)msg->reason.len, msg->reason.ptr);
    if (ok && q.method != RTSP_METHOD_UNKNOWN)
        c->answered_ok |= RTSP_METHOD_BIT(q.method);
    if (q.method == RTSP_METHOD_UNKNOWN && st != 501)
        findings_add(f, CHK_RTSP_UNKNOWN_METHOD, frame, 0, c->label,
                     "unknown method %s answered %d, not 501", q.method_text, st);
    if (q.session_unknown && q.session_sent[0] && st != 454)
        findings_add(f, CHK_RTSP_SESSION_UNKNOWN, frame, 0, c->label,
                     "%s names session %s, which no SETUP returned, and got %d, not 454",
                     q.method_text, q.session_sent, st);
    if (q.method == RTSP_METHOD_OPTIONS && ok) {
        const struct wire_str *pv = rtsp_msg_header(msg, "Public");
        size_t unknown;
        uint32_t mask;
        if (pv && rtsp_parse_methods(*pv, &mask, &unknown, &err) >= 0) {
            c->have_public = true;
            c->public_mask = mask;
            c->public_frame = frame;
        }
    }
    if (q.method == RTSP_METHOD_DESCRIBE && ok && msg->body.len)
        read_sdp(c, msg->body);
    /* Session header of the reply. */
    const struct wire_str *sv = rtsp_msg_header(msg, "Session");
    struct rtsp_session sp = {0};
    bool has_session = sv && rtsp_parse_session(*sv, RTSP_LENIENT, &sp, NULL, &err) >= 0;
    struct sess *s = q.sess;
    if (q.method == RTSP_METHOD_SETUP && ok) {
        if (!has_session) {
            findings_add(f, CHK_RTSP_SESSION_MISSING, frame, 0, c->label,
                         "200 reply to SETUP (CSeq %u) has no Session header", q.cseq);
        } else {
            if (s && (strlen(s->id) != sp.id.len || memcmp(s->id, sp.id.ptr, sp.id.len) != 0))
                findings_add(f, CHK_RTSP_SESSION_CHANGED, frame, 0, c->label,
                             "SETUP reply returns Session %.*s for session %s", (int)sp.id.len,
                             sp.id.ptr, s->id);
            if (!s)
                s = sess_find(c, sp.id);
            if (!s && c->n_sessions < MAX_SESSIONS_PER_CONN) {
                s = &c->sessions[c->n_sessions++];
                memset(s, 0, sizeof *s);
                copy_str(s->id, sizeof s->id, sp.id);
                s->state = SS_READY;
                if (sp.id.len < 8)
                    findings_add(f, CHK_RTSP_SESSION_SHORT, frame, 0, c->label,
                                 "session id %s is %zu octets, RFC 2326 3.4 asks for at least 8",
                                 s->id, sp.id.len);
            }
        }
        bind_setup(p, c, &q, s, msg, frame);
    } else if (s && has_session &&
               (strlen(s->id) != sp.id.len || memcmp(s->id, sp.id.ptr, sp.id.len) != 0)) {
        findings_add(f, CHK_RTSP_SESSION_CHANGED, frame, 0, c->label,
                     "reply to %s carries Session %.*s, not %s", q.method_text, (int)sp.id.len,
                     sp.id.ptr, s->id);
    }
    /* State machine (RFC 2326 A.1): PLAY before SETUP and PAUSE in Ready
     * must not be answered 200. */
    if (ok) {
        enum sess_state state = s ? s->state : SS_INIT;
        bool invalid = (q.method == RTSP_METHOD_PLAY && state == SS_INIT && !q.session_sent[0]) ||
                       (q.method == RTSP_METHOD_PAUSE && state != SS_PLAYING);
        if (invalid)
            findings_add(f, CHK_RTSP_STATE, frame, 0, c->label,
                         "%s in state %s answered %d, expected 455", q.method_text,
                         state == SS_INIT ? "Init" : state == SS_READY ? "Ready" : "Playing", st);
        if (s) {
            if (q.method == RTSP_METHOD_PLAY)
                s->state = SS_PLAYING;
            else if (q.method == RTSP_METHOD_PAUSE) {
                s->state = SS_READY;
                session_quiet(p, s, CHK_RTP_AFTER_PAUSE, ts_ns, frame);
            } else if (q.method == RTSP_METHOD_TEARDOWN) {
                s->state = SS_INIT;
                session_quiet(p, s, CHK_RTP_AFTER_TEARDOWN, ts_ns, frame);
            }
        }
    }
}

/* Parse every complete message in one direction's buffer. */
static void dir_parse(struct pass *p, struct conn *c, int di, bool at_idle)
{
    struct dir *d = &c->dirs[di];
    struct findings *f = &p->a->findings;
    while (d->len > 0) {
        size_t skip = 0;
        enum rtsp_next kind = rtsp_next_kind((const char *)d->buf, d->len, &skip);
        uint64_t frame;
        int64_t ts_ns;
        if (kind == RTSP_NEXT_NEED_MORE) {
            if (skip == d->len)
                dir_consume(d, skip);
            return;
        }
        if (kind == RTSP_NEXT_INTERLEAVED) {
            dir_consume(d, skip);
            struct rtsp_interleaved fr;
            struct wire_error err;
            int n = rtsp_interleaved_parse((const char *)d->buf, d->len, &fr, &err);
            if (n == WIRE_INCOMPLETE)
                return;
            /* Timed by the segment that completes the frame: when a receiver has it. */
            dir_frame(d, n > 0 ? (size_t)n - 1 : 0, &frame, &ts_ns);
            if (n > 0) {
                d->desync = false;
                interleaved_in(p, c, &fr, frame, ts_ns);
                dir_consume(d, (size_t)n);
                continue;
            }
        }
        if (d->desync && (rtsp_plausible_start((const char *)d->buf, d->len) || d->buf[0] == '$'))
            d->desync = false; /* delivery resumed right at a message start */
        if (d->desync) {
            /* After a capture gap: skip to the next plausible message start. */
            size_t next = rtsp_resync((const char *)d->buf, d->len, 0);
            if (next >= d->len) {
                dir_consume(d, d->len);
                return;
            }
            if (next == 0)
                d->desync = false;
            else {
                dir_consume(d, next);
                d->desync = false;
                continue;
            }
        }
        struct rtsp_parse_opts opts = {
            .mode = RTSP_LENIENT,
            .max_header_bytes = ANALYZE_MAX_MESSAGE,
            .max_body_bytes = ANALYZE_MAX_MESSAGE,
            .at_idle = at_idle,
        };
        struct rtsp_msg msg;
        struct rtsp_header hdrs[MAX_HEADERS];
        struct wire_error err;
        int n = rtsp_parse((const char *)d->buf, d->len, &opts, &msg, hdrs, MAX_HEADERS, &err);
        dir_frame(d, skip, &frame, &ts_ns);
        if (n == WIRE_INCOMPLETE) {
            if (d->len >= ANALYZE_MAX_MESSAGE) {
                findings_add(f, CHK_RTSP_SYNTAX, frame, 0, c->label,
                             "message larger than %u bytes; skipped", ANALYZE_MAX_MESSAGE);
                d->desync = true;
                dir_consume(d, 1);
                continue;
            }
            return;
        }
        if (n < 0 && d->after_body && err.offset < 256 && !rtsp_plausible_start((const char *)d->buf, d->len)) {
            /* Garbage right after a body: the body was longer than its
             * Content-Length said. */
            findings_add(f, CHK_RTSP_CONTENT_LENGTH, frame, 0, c->label,
                         "bytes follow a body of Content-Length %u that do not start a message: "
                         "the body is longer than declared", d->last_content_length);
            d->after_body = false;
            size_t next = rtsp_resync((const char *)d->buf, d->len, 0);
            dir_consume(d, next > 0 ? next : 1);
            continue;
        }
        if (n < 0 && err.reason && strstr(err.reason, "body")) {
            findings_add(f, CHK_RTSP_CONTENT_LENGTH, frame, 0, c->label,
                         "the body is shorter than its Content-Length: %s", err.reason);
            dir_consume(d, d->len);
            continue;
        }
        if (n < 0) {
            size_t line_end = 0;
            while (line_end < d->len && line_end < 120 && d->buf[line_end] != '\n')
                line_end++;
            findings_add(f, CHK_RTSP_SYNTAX, frame, 0, c->label, "%s at byte %zu: %.*s",
                         err.reason, err.offset, (int)line_end, (const char *)d->buf);
            size_t next = rtsp_resync((const char *)d->buf, d->len, err.offset > 0 ? err.offset : 0);
            dir_consume(d, next > 0 ? next : 1);
            continue;
        }
        if (!c->decided && msg.is_request && !c->lab) {
            c->lab = rtsp_deviations_has(&msg.deviations, RTSP_DEV_BARE_LF) ||
                     rtsp_deviations_has(&msg.deviations, RTSP_DEV_BARE_URI) ||
                     rtsp_deviations_has(&msg.deviations, RTSP_DEV_MISSING_FINAL_BLANK_LINE);
            c->decided = true;
            p->a->connections[c->index].lab = c->lab;
        }
        if (rtsp_deviations_has(&msg.deviations, RTSP_DEV_BARE_LF) ||
            rtsp_deviations_has(&msg.deviations, RTSP_DEV_MIXED_LINE_ENDS))
            findings_add(f, CHK_RTSP_LINE_ENDS, frame, 0, c->label, "%s uses bare LF line ends",
                         msg.is_request ? "request" : "response");
        d->after_body = msg.body.len > 0;
        d->last_content_length = (uint32_t)msg.content_length;
        if (msg.body.len) {
            /* A declared length that swallows the next message. */
            const char *b = msg.body.ptr;
            for (size_t i = 0; i + 9 <= msg.body.len; i++)
                if ((i == 0 || b[i - 1] == '\n') &&
                    (memcmp(b + i, "RTSP/1.0 ", 9) == 0 || strncasecmp(b + i, "CSeq:", 5) == 0)) {
                    findings_add(f, CHK_RTSP_CONTENT_LENGTH, frame, 0, c->label,
                                 "the body of Content-Length %zu holds the start of another "
                                 "message at body byte %zu: the declared length is too large",
                                 msg.content_length, i);
                    break;
                }
        }
        if (msg.is_request) {
            if (c->client_dir < 0)
                c->client_dir = di;
            on_request(p, c, &msg, frame, ts_ns);
        } else {
            on_response(p, c, &msg, frame, ts_ns);
        }
        dir_consume(d, (size_t)n);
    }
}

/* ---------- TCP connections ---------- */

static struct conn *conn_new(struct pass *p, const struct pkt_endpoint *a, const struct pkt_endpoint *b)
{
    struct analysis *an = p->a;
    if (p->n_conns == ANALYZE_MAX_CONNECTIONS)
        return NULL;
    if (p->n_conns % 32 == 0) {
        struct conn **bigger = realloc(p->conns, (p->n_conns + 32) * sizeof *bigger);
        struct analyze_connection *more =
            realloc(an->connections, (an->n_connections + 32) * sizeof *more);
        if (more)
            an->connections = more;
        if (bigger)
            p->conns = bigger;
        if (!bigger || !more)
            return NULL;
    }
    struct conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->a = *a;
    c->b = *b;
    c->client_dir = -1;
    c->sdp_pt = -1;
    c->index = an->n_connections;
    struct analyze_connection *ac = &an->connections[an->n_connections++];
    memset(ac, 0, sizeof *ac);
    /* Until a request shows the direction: the side on a well-known port is the server. */
    bool b_server = b->port == 554 || b->port == 8554 || !(a->port == 554 || a->port == 8554);
    pkt_endpoint_format(b_server ? a : b, ac->client, sizeof ac->client);
    pkt_endpoint_format(b_server ? b : a, ac->server, sizeof ac->server);
    snprintf(c->label, sizeof c->label, "%s -> %s", ac->client, ac->server);
    p->conns[p->n_conns++] = c;
    return c;
}

/* Bytes of one direction, in order. */
static void conn_data(struct pass *p, struct conn *c, int di, const uint8_t *data, size_t n,
                      uint64_t frame, int64_t ts_ns)
{
    struct dir *d = &c->dirs[di];
    if (d->len + n > d->cap) {
        size_t cap = d->cap ? d->cap : 4096;
        while (cap < d->len + n)
            cap *= 2;
        if (cap > 2 * (size_t)ANALYZE_MAX_MESSAGE + 65536) {
            /* Unparseable flood: drop what is buffered and resynchronise. */
            findings_add(&p->a->findings, CHK_RTSP_SYNTAX, frame, 0, c->label,
                         "%zu bytes without a complete message; skipped", d->len);
            d->len = 0;
            d->n_chunks = 0;
            d->desync = true;
            cap = d->cap ? d->cap : 4096;
            while (cap < n)
                cap *= 2;
        }
        if (cap != d->cap) {
            uint8_t *bigger = realloc(d->buf, cap);
            if (!bigger)
                return;
            d->buf = bigger;
            d->cap = cap;
        }
    }
    if (d->n_chunks == MAX_CHUNKS) {
        memmove(d->chunks, d->chunks + 1, (MAX_CHUNKS - 1) * sizeof d->chunks[0]);
        d->n_chunks--;
    }
    d->chunks[d->n_chunks++] = (struct chunk){d->len, frame, ts_ns};
    memcpy(d->buf + d->len, data, n);
    d->len += n;
    if (!c->decided && !c->lab && rtsp_request_looks_lab((const char *)d->buf, d->len)) {
        /* Lab requests end without a blank line: decide before parsing, so
         * the segment's end can end the message. */
        c->lab = true;
        c->decided = true;
        p->a->connections[c->index].lab = true;
    }
    /* Lab replies and requests have no final blank line: a segment's end
     * is the end of the message when the connection speaks the lab dialect
     * (decided above, from the first request line). */
    dir_parse(p, c, di, c->lab);
}

static void conn_gap(struct pass *p, struct conn *c, int di, uint64_t bytes, uint64_t frame)
{
    findings_add(&p->a->findings, CHK_CAPTURE_TCP_GAP, frame, 0, c->label,
                 "%llu bytes of the %s stream are missing from the capture",
                 (unsigned long long)bytes, di == c->client_dir ? "client" : "server");
    struct dir *d = &c->dirs[di];
    d->len = 0;
    d->n_chunks = 0;
    d->desync = true;
}

static void conn_finish(struct pass *p, struct conn *c)
{
    struct findings *f = &p->a->findings;
    for (int di = 0; di < 2; di++)
        if (c->dirs[di].len)
            dir_parse(p, c, di, true);
    for (size_t i = 0; i < c->n_pending; i++)
        findings_add(f, CHK_RTSP_UNANSWERED, c->pending[i].frame, 0, c->label,
                     "%s (CSeq %u) has no response in the capture", c->pending[i].method_text,
                     c->pending[i].cseq);
    c->n_pending = 0;
    if (c->have_public) {
        /* OPTIONS itself is often left out of Public; that is no fault. */
        uint32_t missing = c->answered_ok & ~c->public_mask & ~RTSP_METHOD_BIT(RTSP_METHOD_OPTIONS);
        for (unsigned m = 1; m < RTSP_METHOD_COUNT; m++)
            if (missing & RTSP_METHOD_BIT(m))
                findings_add(f, CHK_RTSP_PUBLIC, c->public_frame, 0, c->label,
                             "%s was answered 200 but Public does not list it",
                             rtsp_method_name((enum rtsp_method)m));
    }
}

/* ---------- UDP ---------- */

static size_t flow_hash(const struct pkt_endpoint *s, const struct pkt_endpoint *d)
{
    uint32_t h = 2166136261u;
    const uint8_t *parts[2] = {s->addr, d->addr};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 16; i++)
            h = (h ^ parts[k][i]) * 16777619u;
    h = (h ^ s->port) * 16777619u;
    h = (h ^ d->port) * 16777619u;
    return h % 4096;
}

static bool is_rtp_port(const struct pass *p, uint16_t port)
{
    for (size_t i = 0; i < p->opts->n_rtp_ports; i++)
        if (p->opts->rtp_ports[i] == port || p->opts->rtp_ports[i] + 1 == port)
            return true;
    return false;
}

/* What a new UDP flow carries: bound by a SETUP, declared with --rtp-port,
 * or (with no RTSP in the capture) an RTP/JPEG-looking first packet. */
static void flow_classify(struct pass *p, struct flow *f, const struct pkt *pk)
{
    for (size_t i = p->n_bindings; i-- > 0;) {
        struct binding *b = p->bindings[i];
        if (b->tcp)
            continue;
        if (b->record) {
            /* RECORD: the client sends from its ports to the server's. */
            if (ep_same_ip(&f->src, &b->client_ip) && ep_same_ip(&f->dst, &b->server_ip) &&
                (f->src.port == b->client_rtp || f->src.port == b->client_rtcp)) {
                f->kind = f->src.port == b->client_rtp ? FLOW_RTP : FLOW_RTCP;
                f->binding = b;
                f->bound_by = "setup";
                return;
            }
            if (ep_same_ip(&f->dst, &b->client_ip) && ep_same_ip(&f->src, &b->server_ip) &&
                (f->dst.port == b->client_rtp || f->dst.port == b->client_rtcp)) {
                f->kind = FLOW_IGNORED; /* receiver reports back to the recorder */
                return;
            }
            continue;
        }
        /* Server to client: bound by the client's ports (lab servers send
         * from a new port on every PLAY). */
        if (ep_same_ip(&f->dst, &b->client_ip) && ep_same_ip(&f->src, &b->server_ip)) {
            if (f->dst.port == b->client_rtp) {
                f->kind = FLOW_RTP;
            } else if (f->dst.port == b->client_rtcp) {
                f->kind = FLOW_RTCP;
            } else
                continue;
            f->binding = b;
            f->bound_by = "setup";
            return;
        }
        /* Client to server: RTCP receiver reports, and the 12-byte dummy RTP
         * packets ffmpeg and GStreamer send to open NAT paths. */
        if (ep_same_ip(&f->src, &b->client_ip) && ep_same_ip(&f->dst, &b->server_ip) &&
            (f->src.port == b->client_rtp || f->src.port == b->client_rtcp)) {
            f->kind = FLOW_IGNORED;
            return;
        }
    }
    if (is_rtp_port(p, f->dst.port) || is_rtp_port(p, f->src.port)) {
        bool rtcp = false;
        for (size_t i = 0; i < p->opts->n_rtp_ports; i++)
            if (p->opts->rtp_ports[i] + 1 == f->dst.port || p->opts->rtp_ports[i] + 1 == f->src.port)
                rtcp = true;
        f->kind = rtcp ? FLOW_RTCP : FLOW_RTP;
        f->bound_by = "rtp-port";
        return;
    }
    if (!p->any_rtsp && pk->payload_len > 12 + 8 && (pk->payload[0] & 0xC0) == 0x80 &&
        (pk->payload[1] & 0x7F) == 26) {
        f->kind = FLOW_RTP;
        f->bound_by = "heuristic";
        return;
    }
    f->kind = FLOW_IGNORED;
}

/* A capture taken on the sending host (loopback above all) shows a UDP GSO
 * send as one datagram holding many RTP packets back to back: every one
 * but the last of the same size, each with the same SSRC and the next
 * sequence number. Returns that size, or 0 when the datagram is one packet. */
static size_t gso_segment_size(const uint8_t *d, size_t len)
{
    /* Only a datagram too big for one packet on an Ethernet path can be a
     * GSO send; the segment is at most a jumbo frame's payload. */
    if (len <= GSO_MIN_DATAGRAM || (d[0] & 0xC0) != 0x80)
        return 0;
    uint32_t ssrc = (uint32_t)d[8] << 24 | (uint32_t)d[9] << 16 | (uint32_t)d[10] << 8 | d[11];
    uint16_t seq = (uint16_t)(d[2] << 8 | d[3]);
    size_t max_seg = len / 2 < GSO_MAX_SEGMENT ? len / 2 : GSO_MAX_SEGMENT;
    for (size_t seg = 13; seg <= max_seg; seg++) {
        const uint8_t *h = d + seg;
        if ((h[0] & 0xC0) != 0x80 || (h[1] & 0x7F) != (d[1] & 0x7F))
            continue;
        uint32_t s2 = (uint32_t)h[8] << 24 | (uint32_t)h[9] << 16 | (uint32_t)h[10] << 8 | h[11];
        if (s2 != ssrc || (uint16_t)(h[2] << 8 | h[3]) != (uint16_t)(seq + 1))
            continue;
        /* Candidate: every later segment must follow the same pattern. */
        size_t k = 2;
        size_t off = 2 * seg;
        for (; off + 12 <= len; off += seg, k++) {
            const uint8_t *x = d + off;
            uint32_t s3 = (uint32_t)x[8] << 24 | (uint32_t)x[9] << 16 | (uint32_t)x[10] << 8 | x[11];
            if ((x[0] & 0xC0) != 0x80 || s3 != ssrc ||
                (uint16_t)(x[2] << 8 | x[3]) != (uint16_t)(seq + k))
                break;
        }
        /* Whole when the walk ran past the end; a mismatch or a tail too
         * short for an RTP header means this is one big packet. */
        return off >= len ? seg : 0;
    }
    return 0;
}

static void udp_in(struct pass *p, const struct pkt *pk)
{
    size_t h = flow_hash(&pk->src, &pk->dst);
    struct flow *f = p->flow_hash[h];
    while (f && !(pkt_endpoint_eq(&f->src, &pk->src) && pkt_endpoint_eq(&f->dst, &pk->dst)))
        f = f->next;
    if (!f) {
        if (p->n_flows == MAX_FLOWS) {
            p->flows_dropped++;
            return;
        }
        f = calloc(1, sizeof *f);
        if (!f)
            return;
        f->src = pk->src;
        f->dst = pk->dst;
        flow_classify(p, f, pk);
        f->next = p->flow_hash[h];
        p->flow_hash[h] = f;
        p->n_flows++;
    }
    if (f->kind == FLOW_RTP) {
        /* An empty RTP packet (the NAT-opening dummy) is no media. */
        if (pk->payload_len <= 12 && pk->payload_len >= 2 && (pk->payload[1] & 0x7F) == 0)
            return;
        /* RTCP multiplexed or misdirected onto the RTP port: PT 200-204. */
        if (pk->payload_len >= 2 && pk->payload[1] >= 200 && pk->payload[1] <= 204)
            return;
        size_t seg = gso_segment_size(pk->payload, pk->payload_len);
        if (seg) {
            p->a->gso_split++;
            for (size_t off = 0; off < pk->payload_len; off += seg) {
                size_t n = pk->payload_len - off < seg ? pk->payload_len - off : seg;
                rtp_in(p, f, NULL, -1, f->binding, f->bound_by, pk->payload + off, n, n, pk->ts_ns,
                       pk->frame);
            }
            return;
        }
        /* A datagram the capture cut (snap length, a capture budget) keeps
         * its header's evidence; its payload is not the sender's to answer for. */
        rtp_in(p, f, NULL, -1, f->binding, f->bound_by, pk->payload, pk->payload_len,
               pk->truncated && pk->payload_wire_len > pk->payload_len ? pk->payload_wire_len : pk->payload_len,
               pk->ts_ns, pk->frame);
    } else if (f->kind == FLOW_RTCP) {
        char where[160], s1[64], s2[64];
        pkt_endpoint_format(&f->src, s1, sizeof s1);
        pkt_endpoint_format(&f->dst, s2, sizeof s2);
        snprintf(where, sizeof where, "%s -> %s (RTCP)", s1, s2);
        rtcp_in(p, f->binding, where, pk->payload, pk->payload_len, pk->frame);
    }
}

/* ---------- the pass ---------- */

static void finish(struct pass *p)
{
    for (size_t i = 0; i < p->n_conns; i++)
        conn_finish(p, p->conns[i]);
    for (size_t i = 0; i < p->a->n_streams; i++)
        rtp_stream_finish(p->a->streams[i].rtp, &p->a->findings);
    /* The lab profile by default when the capture speaks the lab dialect. */
    if (!p->opts->profile_given) {
        p->a->profile = PROFILE_RFC2326;
        for (size_t i = 0; i < p->a->n_connections; i++)
            if (p->a->connections[i].lab)
                p->a->profile = PROFILE_LAB;
    }
}

static void pass_free(struct pass *p)
{
    for (size_t i = 0; i < p->n_conns; i++) {
        free(p->conns[i]->dirs[0].buf);
        free(p->conns[i]->dirs[1].buf);
        free(p->conns[i]);
    }
    free(p->conns);
    for (size_t i = 0; i < p->n_bindings; i++)
        free(p->bindings[i]);
    for (size_t h = 0; h < 4096; h++)
        for (struct flow *f = p->flow_hash[h], *next; f; f = next) {
            next = f->next;
            free(f);
        }
}

bool analysis_failed(const struct analysis *a)
{
    return findings_at_least(&a->findings, a->profile, SEV_FAIL) > 0;
}

void analysis_free(struct analysis *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n_connections; i++)
        free(a->connections[i].exchanges);
    free(a->connections);
    for (size_t i = 0; i < a->n_streams; i++)
        rtp_stream_free(a->streams[i].rtp);
    free(a->streams);
    findings_free(&a->findings);
    free(a);
}

/* ---------- TCP reassembly callbacks ---------- */

/* Marks a TCP connection that is not RTSP, so later bytes are skipped. */
static char not_rtsp;

/* A connection carries RTSP when one side's first bytes start a request or
 * a response; other TCP is not ours. */
static void on_tcp_data(void *ctx, struct tcpreasm_conn *tc, int dir, const struct tcpreasm_chunk *k)
{
    struct pass *p = ctx;
    if (tc->user == &not_rtsp)
        return;
    struct conn *c = tc->user;
    if (!c) {
        bool first = tc->dir[0].bytes + tc->dir[1].bytes <= k->len;
        if (!first || k->len < 5 || !rtsp_plausible_start((const char *)k->data, k->len) ||
            !(c = conn_new(p, &tc->ep[0], &tc->ep[1]))) {
            tc->user = &not_rtsp;
            return;
        }
        tc->user = c;
        p->any_rtsp = true;
    }
    conn_data(p, c, dir, k->data, k->len, k->frame, k->ts_ns);
}

static void on_tcp_gap(void *ctx, struct tcpreasm_conn *tc, int dir, const struct tcpreasm_gap *g)
{
    struct pass *p = ctx;
    if (tc->user && tc->user != &not_rtsp)
        conn_gap(p, tc->user, dir, g->missing_bytes, g->frame);
}

/* A whole datagram (a frame, or one reassembled from fragments) to its
 * transport's path. */
static void datagram_in(struct pass *p, struct tcpreasm *tcp, const struct pkt *pk)
{
    if (pk->l4 == PKT_L4_TCP && !pk->fragment)
        tcpreasm_packet(tcp, pk);
    else if (pk->l4 == PKT_L4_UDP && !pk->fragment)
        udp_in(p, pk);
    else
        p->a->undecoded++;
}

static int analyze_open(struct pcapin *in, const char *path, const struct analyze_opts *opts,
                        struct analysis **out, char *err, size_t err_cap);

int analyze_file(const char *path, const struct analyze_opts *opts, struct analysis **out,
                 char *err, size_t err_cap)
{
    struct pcapin in;
    *out = NULL;
    if (pcapin_open(&in, path) != 0) {
        snprintf(err, err_cap, "%s", pcapin_error(&in));
        pcapin_close(&in);
        return -1;
    }
    return analyze_open(&in, path, opts, out, err, err_cap);
}

int analyze_stream(FILE *fp, const char *name, const struct analyze_opts *opts,
                   struct analysis **out, char *err, size_t err_cap)
{
    struct pcapin in;
    *out = NULL;
    if (pcapin_open_stream(&in, fp, name) != 0) {
        snprintf(err, err_cap, "%s", pcapin_error(&in));
        pcapin_close(&in);
        return -1;
    }
    return analyze_open(&in, name, opts, out, err, err_cap);
}

/* The pass over an open capture; closes it. */
static int analyze_open(struct pcapin *inp, const char *path, const struct analyze_opts *opts,
                        struct analysis **out, char *err, size_t err_cap)
{
    struct pcapin in = *inp;
    struct analysis *a = calloc(1, sizeof *a);
    struct pass *p = calloc(1, sizeof *p);
    if (!a || !p) {
        snprintf(err, err_cap, "%s: out of memory", path);
        free(a);
        free(p);
        pcapin_close(&in);
        return -1;
    }
    snprintf(a->path, sizeof a->path, "%s", path);
    a->format = pcapin_format(&in);
    snprintf(a->link_type, sizeof a->link_type, "%s", pcapin_link_name(&in));
    a->profile = opts->profile;
    findings_init(&a->findings);
    p->a = a;
    p->opts = opts;
    struct tcpreasm_callbacks cb = {
        .on_data = on_tcp_data,
        .on_gap = on_tcp_gap,
    };
    const char *why = NULL;
    struct tcpreasm *tcp = tcpreasm_new(NULL, &cb, p, &why);
    struct ipreasm *ipr = tcp ? ipreasm_new(NULL, &why) : NULL;
    if (!tcp || !ipr) {
        snprintf(err, err_cap, "%s: %s", path, why ? why : "out of memory");
        tcpreasm_free(tcp);
        pass_free(p);
        free(p);
        analysis_free(a);
        pcapin_close(&in);
        return -1;
    }
    struct pkt pk, whole;
    int rc;
    uint64_t truncated_first = 0;
    while ((rc = pcapin_next(&in, &pk)) == 1) {
        a->packets++;
        if (a->packets == 1 || pk.ts_ns < a->first_ns)
            a->first_ns = pk.ts_ns;
        if (pk.ts_ns > a->last_ns)
            a->last_ns = pk.ts_ns;
        if (pk.truncated) {
            if (!a->truncated)
                truncated_first = pk.frame;
            a->truncated++;
        }
        if (pk.fragment) {
            /* The datagram reaches the receiver with its last fragment. */
            a->ip_fragments++;
            if (ipreasm_fragment(ipr, &pk, &whole) == 1)
                datagram_in(p, tcp, &whole);
        } else {
            datagram_in(p, tcp, &pk);
        }
    }
    if (rc < 0) {
        if (a->packets == 0) {
            snprintf(err, err_cap, "%s", pcapin_error(&in));
            ipreasm_free(ipr);
            tcpreasm_free(tcp);
            pass_free(p);
            free(p);
            analysis_free(a);
            pcapin_close(&in);
            return -1;
        }
        /* Analyzed as far as the file goes; the cut is a finding. */
        findings_add(&a->findings, CHK_CAPTURE_TRUNCATED, a->packets + 1, 0, path, "%s",
                     pcapin_error(&in));
    }
    if (a->truncated)
        findings_add(&a->findings, CHK_CAPTURE_TRUNCATED, truncated_first, 0, path,
                     "%llu frames were cut by the snap length (the first is frame %llu)",
                     (unsigned long long)a->truncated, (unsigned long long)truncated_first);
    ipreasm_finish(ipr);
    const struct ipreasm_stats *ist = ipreasm_stats(ipr);
    a->ip_reassembled = ist->reassembled;
    a->ip_incomplete = ist->incomplete;
    a->ip_evicted = ist->evicted;
    a->ip_discarded = ist->overlapping + ist->oversize;
    ipreasm_free(ipr);
    tcpreasm_flush_all(tcp);
    finish(p);
    tcpreasm_free(tcp);
    pcapin_close(&in);
    pass_free(p);
    free(p);
    *out = a;
    return 0;
}
