/* Unit tests of TCP reassembly (harness/analyze/tcpreasm.h): in-order,
 * out-of-order, retransmitted and overlapping segments (first received
 * wins), a missing segment reported as a gap by window overflow, FIN
 * acknowledgment, RST and end-of-capture flush with delivery resumed after
 * it, sequence wrap at 2^32, connections without SYN, FIN/RST ends and
 * port reuse, window and segment limits, hostile sequence jumps, a full
 * connection table, snap-length cuts and IPv6. A recording sink keeps
 * every callback so each case compares what was delivered, where. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/tcpreasm.h"
#include "check.h"

#define MAX_CONNS 8
#define STREAM_MAX 8192
#define EVENTS_MAX 512

/* One callback as recorded. */
struct ev {
    char kind;              /* 'o'pen 'd'ata 'g'ap 'e'nd 'c'lose */
    int conn;               /* index given in on_open */
    int dir;
    uint64_t frame;         /* chunk frame / gap detection frame / end frame */
    uint64_t len;           /* data length / missing bytes */
    uint64_t offset;        /* chunk or gap offset */
    uint64_t frame_before;  /* gap only */
    uint64_t frame_after;   /* gap only */
    int reason;             /* gap reason */
    bool reset;             /* end only */
};

struct stream {
    char buf[STREAM_MAX]; /* delivered bytes, '~' for each missing byte (when few) */
    size_t len;
    uint64_t next_offset; /* what the next chunk's offset must be */
};

struct sink {
    struct stream s[MAX_CONNS][2];
    struct ev ev[EVENTS_MAX];
    size_t nev;
    int opens, closes;
    bool overflow; /* more than EVENTS_MAX events: the last slot is reused */
    int bad;       /* offsets out of order, events without a connection */
};

static struct sink *sink_new(void)
{
    return calloc(1, sizeof(struct sink));
}

static int conn_index(struct tcpreasm_conn *c)
{
    return c->user ? *(int *)c->user : -1;
}

static struct ev *add(struct sink *k, char kind, struct tcpreasm_conn *c, int dir)
{
    struct ev *e = &k->ev[k->nev < EVENTS_MAX ? k->nev++ : EVENTS_MAX - 1];
    if (k->nev == EVENTS_MAX)
        k->overflow = true;
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->conn = conn_index(c);
    e->dir = dir;
    if (e->conn < 0 || e->conn >= MAX_CONNS)
        k->bad++;
    return e;
}

static void on_open(void *ctx, struct tcpreasm_conn *c, const struct pkt *p)
{
    struct sink *k = ctx;
    int *idx = malloc(sizeof(int)); /* freed in on_close: the sanitizer sees leaks */
    *idx = k->opens++ % MAX_CONNS;
    c->user = idx;
    memset(k->s[*idx], 0, sizeof(k->s[*idx]));
    struct ev *e = add(k, 'o', c, 0);
    e->frame = p->frame;
}

static void on_data(void *ctx, struct tcpreasm_conn *c, int dir, const struct tcpreasm_chunk *ch)
{
    struct sink *k = ctx;
    struct ev *e = add(k, 'd', c, dir);
    e->frame = ch->frame;
    e->len = ch->len;
    e->offset = ch->offset;
    struct stream *s = &k->s[e->conn & (MAX_CONNS - 1)][dir];
    if (ch->offset != s->next_offset || ch->len == 0)
        k->bad++;
    s->next_offset = ch->offset + ch->len;
    if (s->len + ch->len <= STREAM_MAX) {
        memcpy(s->buf + s->len, ch->data, ch->len);
        s->len += ch->len;
    }
}

static void on_gap(void *ctx, struct tcpreasm_conn *c, int dir, const struct tcpreasm_gap *g)
{
    struct sink *k = ctx;
    struct ev *e = add(k, 'g', c, dir);
    e->frame = g->frame;
    e->len = g->missing_bytes;
    e->offset = g->offset;
    e->frame_before = g->frame_before;
    e->frame_after = g->frame_after;
    e->reason = (int)g->reason;
    struct stream *s = &k->s[e->conn & (MAX_CONNS - 1)][dir];
    if (g->offset != s->next_offset || g->missing_bytes == 0)
        k->bad++;
    s->next_offset = g->offset + g->missing_bytes;
    if (g->missing_bytes < 64 && s->len + g->missing_bytes <= STREAM_MAX) {
        memset(s->buf + s->len, '~', g->missing_bytes);
        s->len += g->missing_bytes;
    }
}

static void on_end(void *ctx, struct tcpreasm_conn *c, int dir, bool reset, uint64_t frame)
{
    struct sink *k = ctx;
    struct ev *e = add(k, 'e', c, dir);
    e->frame = frame;
    e->reset = reset;
}

static void on_close(void *ctx, struct tcpreasm_conn *c)
{
    struct sink *k = ctx;
    add(k, 'c', c, 0);
    k->closes++;
    free(c->user);
    c->user = NULL;
}

static const struct tcpreasm_callbacks cbs = {on_open, on_data, on_gap, on_end, on_close};

static struct tcpreasm *new_reasm(struct sink *k, size_t window, size_t max_conns)
{
    struct tcpreasm_opts o;
    tcpreasm_opts_default(&o);
    if (window)
        o.window_bytes = window;
    if (max_conns)
        o.max_conns = max_conns;
    const char *why = NULL;
    struct tcpreasm *r = tcpreasm_new(&o, &cbs, k, &why);
    CHECK(r != NULL);
    if (!r)
        abort();
    return r;
}

/* ---- packets ---- */

#define C2S 0 /* client 10.0.0.2:40000 -> server 10.0.0.1:554 */
#define S2C 1
static uint16_t client_port = 40000;

static struct pkt seg(uint64_t frame, int way, uint32_t seq, uint32_t ack, uint8_t flags,
                      const char *data)
{
    struct pkt p;
    memset(&p, 0, sizeof(p));
    struct pkt_endpoint cl = {4, {10, 0, 0, 2}, client_port}, sv = {4, {10, 0, 0, 1}, 554};
    p.frame = frame;
    p.ts_ns = (int64_t)frame * 1000;
    p.ip_version = 4;
    p.ip_proto = 6;
    p.l4 = PKT_L4_TCP;
    p.src = way == C2S ? cl : sv;
    p.dst = way == C2S ? sv : cl;
    p.tcp_seq = seq;
    p.tcp_ack = ack;
    p.tcp_flags = flags;
    p.payload = (const uint8_t *)data;
    p.payload_len = p.payload_wire_len = strlen(data);
    return p;
}

static struct tcpreasm_conn *feed(struct tcpreasm *r, uint64_t frame, int way, uint32_t seq,
                                  uint32_t ack, uint8_t flags, const char *data)
{
    struct pkt p = seg(frame, way, seq, ack, flags, data);
    return tcpreasm_packet(r, &p);
}

#define A PKT_TCP_ACK
#define S PKT_TCP_SYN
#define F PKT_TCP_FIN
#define R PKT_TCP_RST

/* Handshake: client ISN ci, server ISN si; frames 1-3. */
static struct tcpreasm_conn *handshake(struct tcpreasm *r, uint32_t ci, uint32_t si)
{
    struct tcpreasm_conn *c = feed(r, 1, C2S, ci, 0, S, "");
    feed(r, 2, S2C, si, ci + 1, S | A, "");
    feed(r, 3, C2S, ci + 1, si + 1, A, "");
    return c;
}

static int count(const struct sink *k, char kind)
{
    int n = 0;
    for (size_t i = 0; i < k->nev; i++)
        n += k->ev[i].kind == kind;
    return n;
}

static const struct ev *nth(const struct sink *k, char kind, int n)
{
    for (size_t i = 0; i < k->nev; i++)
        if (k->ev[i].kind == kind && n-- == 0)
            return &k->ev[i];
    static const struct ev none = {0};
    return &none;
}

/* The bytes delivered on one direction of connection conn equal str. */
#define CHECK_STREAM(k, conn, dir, str) CHECK_STR((k)->s[conn][dir].buf, (k)->s[conn][dir].len, str)

/* ---- cases ---- */

static void in_order_both_directions(void)
{
    struct sink *k = sink_new();
    struct tcpreasm *r = new_reasm(k, 0, 0);
    struct tcpreasm_conn *c = handshake(r, 1000, 5000);
    CHECK(c != NULL);
    feed(r, 4, C2S, 1001, 5001, A, "OPTIONS ");
    feed(r, 5, C2S, 1009, 5001, A, "rtsp://x RTSP/1.0\r\n\r\n");
    feed(r, 6, S2C, 5001, 1030, A, "RTSP/1.0 200 OK\r\n\r\n");
    CHECK_STREAM(k, 0, C2S, "OPTIONS rtsp://x RTSP/1.0\r\n\r\n");
    CHECK_STREAM(k, 0, S2C, "RTSP/1.0 200 OK\r\n\r\n");
    CHECK_EQ_INT(count(k, 'd'), 3);
    CHECK_EQ_INT(nth(k, 'd', 0)->frame, 4);
    CHECK_EQ_INT(nth(k, 'd', 1)->frame, 5);
    CHECK_EQ_INT(nth(k, 'd', 1)->offset, 8);
    CHECK_EQ_INT(nth(k, 'd', 2)->frame, 6);
    CHECK_EQ_INT(nth(k, 'd', 2)->dir, S2C);
    CHECK_EQ_INT(c->syn_from, 0);
    CHECK_EQ_INT(c->ep[0].port, 40000);
    CHECK_EQ_INT(c->ep[1].port, 554);
    CHECK(c->dir[0].syn && c->dir[1].syn);
    CHECK_EQ_INT(c->dir[C2S].bytes, 29);
    CHECK_EQ_INT(c->dir[C2S].segments, 4);
    CHECK_EQ_INT(c->first_frame, 1);
    CHECK_EQ_INT(c->last_frame, 6);
    CHECK_EQ_INT(count(k, 'g'), 0);
    CHECK_EQ_INT(k->opens, 1);
    tcpreasm_free(r);
    CHECK_EQ_INT(k->closes, 1);
    CHECK_EQ_INT(k->bad, 0);
    free(k);
}

static void out_of_order_is_buffered_then_delivered(void)
{
    struct sink *k = sink_new();
    struct tcpreasm *r = new_reasm(k, 0, 0);
    struct tcpreasm_conn *c = handshake(r, 0, 100);
    feed(r, 4, S2C, 101, 1, A, "aaaa");
    feed(r, 5, S2C, 109, 1, A, "cccc"); /* before bbbb */
    feed(r, 6, S2C, 113, 1, A, "dddd");
    CHECK_STREAM(k, 0, S2C, "aaaa");
    CHECK_EQ_INT(tcpreasm_stats(r)->buffered_bytes, 8);
    feed(r, 7, S2C, 105, 1, A, "bbbb");
    CHECK_STREAM(k, 0, S2C, "aaaabbbbccccdddd");
    CHECK_EQ_INT(count(k, 'd'), 4);
    /* each chunk keeps the frame that carried it */
    CHECK_EQ_INT(nth(k, 'd', 1)->frame, 7);
    CHECK_EQ_INT(nth(k, 'd', 2)->frame, 5);
    CHECK_EQ_INT(nth(k, 'd', 3)->frame, 6);
    CHECK_EQ_INT(c->dir[S2C].ooo_segments, 2);
    CHECK_EQ_INT(count(k, 'g'), 0);
    CHECK_EQ_INT(tcpreasm_stats(r)->buffered_bytes, 0);
    CHECK_EQ_INT(tcpreasm_stats(r)->buffered_peak, 8);
    tcpreasm_free(r);
    CHECK_EQ_INT(k->bad, 0);
    free(k);
}

static void retransmissions_are_dropped(void)
{
    struct sink *k = sink_new();
    struct tcpreasm *r = new_reasm(k, 0, 0);
    struct tcpreasm_conn *c = handshake(r, 0, 100);
    feed(r, 4, S2C, 101, 1, A, "one-");
    feed(r, 5, S2C, 101, 1, A, "one-");    /* whole retransmission */
    feed(r, 6, S2C, 105, 1, A, "two-");
    feed(r, 7, S2C, 104, 1, A, "-");       /* keep-alive style: one old byte */
    feed(r, 8, S2C, 109, 1, A, "three");
    feed(r, 9, S2C, 109, 1, A, "three");
    feed(r, 10, S2C, 101, 1, A, "one-two-three"); /* repacketized */
    CHECK_STREAM(k, 0, S2C, "one-two-three");
    CHECK_EQ_INT(count(k, 'd'), 3);
    CHECK_EQ_INT(c->dir[S2C].dup_bytes, 4 + 1 + 5 + 13);
    tcpreasm_free(r);
    CHECK_EQ_INT(k->bad, 0);
    free(k);
}

static void overlaps_keep_first_received_bytes(void)
{
    struct sink *k = sink_new();
    struct tcpreasm *r = new_reasm(k, 0, 0);
    struct tcpreasm_conn *c = handshake(r, 0, 100);
    /* in order, then a segment overlapping the delivered tail */
    feed(r, 4, S2C, 101, 1, A, "AAAAAAAAAA");
    feed(r, 5, S2C, 106, 1, A, "BBBBBBBBBB");
    CHECK_STREAM(k, 0, S2C, "AAAAAAAAAABBBBB");
    /* next_seq 116: buffer [126,136) C, then [131,141) E overlapping it */
    feed(r, 6, S2C, 126, 1, A, "CCCCCCCCCC");
    feed(r, 7, S2C, 131, 1, A, "EEEEEEEEEE");
    /* [120,132) F spans the hole before C and C's start */
    feed(r, 8, S2C, 120, 1, A, "FFFFFFFFFFFF");
    /* [116,146) D covers everything: only the hole [116,120) and the tail [141,146) are new */
    feed(r, 9, S2C, 116, 1, A, "DDDDDDDDDDDDDDDDDDDDDDDDDDDDDD");
    CHECK_STREAM(k, 0, S2C,
              "AAAAAAAAAABBBBB" "DDDD" "FFFFFF" "CCCCCCCCCC" "EEEEE" "DDDDD");
    CHECK_EQ_INT(c->dir[S2C].dup_bytes, 5 + 5 + 6 + 21);
    CHECK_EQ_INT(count(k, 'g'), 0);
    CHECK_EQ_INT(tcpreasm_stats(r)->buffered_bytes, 0);
    tcpreasm_free(r);
    CHECK_EQ_INT(k->bad, 0);
    free(k);
}

static void missing_segment_gap_on_window_then_resume(void)
{
    struct sink *k = sink_new();
    struct tcpreasm *r = new_reasm(k, 20, 0); /* 20-byte window */
    struct tcpreasm_conn *c = handshake(r, 0, 100);
    feed(r, 4, S2C, 101, 1, A, "0123456789");
    /* [111,121) lost by the capture */
    feed(r, 5, S2C, 121, 1, A, "abcdefghij");
    feed(r, 6, S2C, 131, 1, A, "klmnopqrst");
    CHECK_EQ_INT(count(k, 'g'), 0); /* 20 bytes buffered: not yet over */
    feed(r, 7, S2C, 141, 1, A, "uvwxyz");
    CHECK_EQ_INT(count(k, 'g'), 1);
    const struct ev *g = nth(k, 'g', 0);
    CHECK_EQ_INT(g->len, 10);
    CHECK_EQ_INT(g->offset, 10);
    CHECK_EQ_INT(g->frame, 7);        /* detected when the window overflowed */
    CHECK_EQ_INT(g->frame_before, 4); /* last byte before the hole */
    CHECK_EQ_INT(g->frame_after, 5);  /* delivery resumes with frame 5 */
    CHECK_EQ_INT(g->reason, TCPREASM_GAP_WINDOW);
    CHECK_STREAM(k, 0, S2C, "0123456789~~~~~~~~~~abcdefghijklmnopqrstuvwxyz");
    feed(r, 8, S2C, 147, 1, A, "!"); /* and in order again afterwards */
    CHECK_EQ_INT(nth(k, 'd', 4)->offset, 46); /* 36 bytes and the 10-byte gap */
    CHECK_EQ_INT(c->dir[S2C].gap_bytes, 10);
    CHECK_EQ_INT(c->dir[S2C].gaps, 1);
    CHECK_EQ_INT(c->dir[S2C].bytes, 37);
    /* the late retransmission of the lost bytes is old now */
    feed(r, 9, S2C, 111, 1, A, "LOSTLOSTLO");
    CHECK_EQ_INT(c->dir[S2C].bytes, 37);
    tcpreasm_free(r);
    CHECK_EQ_INT(k->bad, 0);
    free(k);
}

static void missing_segment_gap_when_the_peer_acknowledges_it(void)
{
    struct sink *k = sink_new();
    struct tcpreasm *r = new_reasm(k, 0, 0);
    handshake(r, 0, 100);
    feed(r, 4, S2C, 101, 1, A, "0123");
    feed(r, 5, S2C, 109, 1, A, "89ab"); /* [105,109) lost by the capture */
    feed(r, 6, C2S, 1, 105, A, "");     /* the client still misses it: wait */
    feed(r, 7, S2C, 113, 1, A, "cdef");
    CHECK_EQ_INT(count(k, 'g'), 0);
    feed(r, 8, C2S, 1, 109, A, "");     /* the client got the hole: the capture lost it */
    CHECK_EQ_INT(count(k, 'g'), 1);
    CHECK_EQ_INT(nth(k, 'g', 0)->reason, TCPREASM_GAP_ACKED);
    CHECK_EQ_INT(nth(k, 'g', 0)->frame, 8);
    CHECK_EQ_INT(nth(k, 'g', 0)->frame_before, 4);
    CHECK_EQ_INT(nth(k, 'g', 0)->frame_after, 5);
    CHECK_STREAM(k, 0, S2C, "0123~~~~89abcdef");
    /* an acknowledgment far beyond anything sent gives up only what is buffered */
    feed(r, 9, S2C, 121, 1, A, "ijkl");  /* [117,121) lost */
    feed(r, 10, C2S, 1, 2000000000u, A, "");
    CHECK_EQ_INT(count(k, 'g'), 1);
    tcpreasm_free(r);
    CHECK_EQ_INT(k->bad, 0);
    free(k);
}

static void missing_segment_gap_when_buffer_outgrows_window(void)
{
    struct sink *k = sink_new();
    struct tcpreasm *r = new_reasm(k, 20, 0);
    handshake(r, 0, 100);
    feed(r, 4, S2C, 101, 1, A, "x");
    /* [102,103) lost; one segment of 30 bytes right after the hole */
    feed(r, 5, S2C, 103, 1, A, "abcdefghijklmnopqrstuvwxyz0123");
    CHECK_EQ_INT(count(k, 'g'), 1);
    CHECK_EQ_INT(nth(k, 'g', 0)->reason, TCPREASM_GAP_WINDOW);
    CHECK_EQ_INT(nth(k, 'g', 0)->frame, 5);
    CHECK_EQ_INT(nth(k, 'g', 0)->len, 1);
    CHECK_STREAM(k, 0, S2C, "x~abcdefghijklmnopqrstuvwxyz0123");
    tcpreasm_free(r);
    CHECK_EQ_INT(k->bad, 0);
    free(k);
}

static void global_buffer_limit(void)
{
    struct sink *k = sink_new();
    struct tcpreasm_opts o;
    tcpreasm_opts_default(&o);
    o.max_buffered_bytes = 30;
    struct tcpreasm *r = tcpreasm_new(&o, &cbs, k, NULL);
    client_port = 1;
    struct tcpreasm_conn *a = handshake(r, 0, 0);
    feed(r, 4, S2C, 3, 1, A, "0123456789abcdefghij"); /* 20 bytes after a 2-byte hole */
    client_port = 2;
    struct tcpreasm_conn *b = handshake(r, 0, 0);
    feed(r, 5, S2C, 3, 1, A, "0123456789abcdefghij"); /* 40 in all: over the limit */
    CHECK_EQ_INT(a->dir[1].gaps, 0);
    CHECK_EQ_INT(b->dir[1].gaps, 1);
    CHECK_EQ_INT(b->dir[1].bytes, 20);
    CHECK_EQ_INT(tcpreasm_stats(r)->buffered_bytes, 20);
    client_port = 40000;
    tcpreasm_free(r);
    CHECK_EQ_INT(k->bad, 0);
    free(k);
}

static void missing_segment_gap_at_flush(void)
{
    struct sink *k = sink_new();
    struct tcpreasm *r = new_reasm(k, 0, 0);
    handshake(r, 0, 100);
    feed(r, 4, C2S, 1, 101, A, "GET_");
    feed(r, 5, C2S, 9, 101, A, "PARAMETER"); /* [5,9) lost */
    feed(r, 6, C2S, 30, 101, A, "x");        /* [18,30) lost */
    CHECK_EQ_INT(count(k, 'g'), 0);
    tcpreasm_flush_all(r);
    CHECK_EQ_INT(count(k, 'g'), 2);
    CHECK_EQ_INT(nth(k, 'g', 0)->len, 4);
    CHECK_EQ_INT(nth(k, 'g', 0)->reason, TCPREASM_GAP_FLUSH);
    CHECK_EQ_INT(nth(k, 'g', 0)->frame, 6); /* the connection's last frame */
    CHECK_EQ_INT(nth(k, 'g', 1)->len, 12);
    CHECK_EQ_INT(nth(k, 'g', 1)->frame_after, 6);
    CHECK_STREAM(k, 0, C2S, "GET_~~~~PARAMETER~~~~~~~~~~~~x");
    CHECK_EQ_INT(count(k, 'e'), 0); /* no FIN was seen: not ended */
    CHECK_EQ_INT(k->closes, 0);     /* still readable until free */
    tcpreasm_free(r);

    /* a FIN after a hole, never acknowledged in the capture */
    r = new_reasm(k, 0, 0);
    k->nev = 0;
    handshake(r, 0, 100);
    feed(r, 4, S2C, 101, 1, A, "ab");
    feed(r, 5, S2C, 105, 1, A | F, "ef");
    tcpreasm_flush_all(r);
    CHECK_EQ_INT(count(k, 'g'), 1);
    CHECK_EQ_INT(nth(k, 'g', 0)->reason, TCPREASM_GAP_FLUSH);
    CHECK_STREAM(k, 1, S2C, "ab~~ef");
    CHECK_EQ_INT(count(k, 'e'), 1); /* the FIN was captured: the stream ended */
    CHECK(!nth(k, 'e', 0)->reset);
    tcpreasm_free(r);
    CHECK_EQ_INT(k->closes, 2);
    CHECK_EQ_INT(k->bad, 0);
    free(k);
}

static void fin_with_hole_waits_for_ack_then_gaps(void)
{
    struct sink *k = sink_new();
    struct tcpreasm *r = new_reasm(k, 0, 0);
    struct tcpreasm_conn *c = handshake(r, 0, 100);
    feed(r, 4, S2C, 101, 1, A, "head");
    feed(r, 5, S2C, 109, 1, A | F, "tail"); /* [105,109) missing; FIN at 113 */
    CHECK_EQ_INT(count(k, 'e'), 0);
    /* a retransmission may still come before the peer acknowledges the FIN */
    feed(r, 6, S2C, 105, 1, A, "midl");
    CHECK_STREAM(k, 0, S2C, "headmidltail");
    CHECK_EQ_INT(count(k, 'e'), 1);
    CHECK_EQ_INT(nth(k, 'e', 0)->frame, 6);
    CHECK(!nth(k, 'e', 0)->reset);
    CHECK_EQ_INT(count(k, 'g'), 0);

    /* the other way, the hole is never filled: the ACK of the FIN gives it up */
    feed(r, 7, C2S, 1, 114, A, "abc");
    feed(r, 8, C2S, 8, 114, A | F, ""); /* [4,8) missing, FIN at 8 */
    feed(r, 9, S2C, 114, 4, A, "");     /* a duplicate ACK: the hole is still open */
    CHECK_EQ_INT(count(k, 'g'), 0);
    feed(r, 10, S2C, 114, 9, A, "");    /* FIN acknowledged */
    CHECK_EQ_INT(count(k, 'g'), 1);
    CHECK_EQ_INT(nth(k, 'g', 0)->reason, TCPREASM_GAP_FIN);
    CHECK_EQ_INT(nth(k, 'g', 0)->len, 4);
    CHECK_EQ_INT(nth(k, 'g', 0)->frame, 10);
    CHECK_STREAM(k, 0, C2S, "abc~~~~");
    CHECK_EQ_INT(count(k, 'e'), 2);
    CHECK_EQ_INT(nth(k, 'e', 1)->dir, C2S);
    CHECK(c->closed);
    CHECK(!c->reset);
    tcpreasm_free(r);
    CHECK_EQ_INT(k->bad, 0);
    free(k);
}

static void wrap_at_2_32(void)
{
    struct sink *k = sink_new();
    struct tcpreasm *r = new_reasm(k, 0, 0);
    uint32_t isn = 0xfffffff5u; /* data starts at 0xfffffff6 */
    handshake(r, 1, isn);
    feed(r, 4, S2C, 0xfffffff6u, 2, A, "01234");
    feed(r, 5, S2C, 0x00000005u, 2, A, "fghij"); /* out of order, after the wrap */
    feed(r, 6, S2C, 0xfffffffbu, 2, A, "56789abcde"); /* crosses 2^32 */
    feed(r, 7, S2C, 0xfffffff0u, 2, A, "oldoldold");   /* before the start: old */
    CHECK_STREAM(k, 0, S2C, "0123456789abcdefghij");
    CHECK_EQ_INT(count(k, 'g'), 0);
    /* a FIN after the wrap ends the stream at once: nothing is missing */
    feed(r, 8, S2C, 0x0000000au, 2, A | F, "");
    CHECK_EQ_INT(count(k, 'e'), 1);
    tcpreasm_free(r);
    CHECK_EQ_INT(k->bad, 0);
    free(k);
}

static void connection_without_syn_starts_at_first_segment(void)
{
    struct sink *k = sink_new();
    struct tcpreasm *r = new_reasm(k, 0, 0);
    struct tcpreasm_conn *c = feed(r, 1, S2C, 123456, 777, A, "mid-stream ");
    CHECK(c != NULL);
    feed(r, 2, C2S, 777, 123467, A, "");
    feed(r, 3, S2C, 123467, 777, A, "bytes");
    CHECK_STREAM(k, 0, 0, "mid-stream bytes"); /* the server spoke first: its stream is dir 0 */
    CHECK_EQ_INT(c->syn_from, -1);
    CHECK_EQ_INT(c->ep[0].port, 554); /* ep[0] sent the first packet seen */
    CHECK_EQ_INT(nth(k, 'd', 0)->offset, 0);
    CHECK_EQ_INT(nth(k, 'd', 0)->frame, 1);
    CHECK_EQ_INT(nth(k, 'o', 0)->frame, 1);
    tcpreasm_free(r);

    /* the SYN-ACK arrives after a packet created the connection */
    k->nev = 0;
    r = new_reasm(k, 0, 0);
    c = feed(r, 1, C2S, 1001, 0, A, "");
    CHECK_EQ_INT(c->syn_from, -1);
    feed(r, 2, S2C, 500, 1001, S | A, "");
    CHECK_EQ_INT(c->syn_from, 0); /* the client, to which the SYN-ACK went */
    tcpreasm_free(r);

    /* only the SYN-ACK captured: the client is the side it went to */
    k->nev = 0;
    r = new_reasm(k, 0, 0);
    c = feed(r, 1, S2C, 500, 1001, S | A, "");
    CHECK_EQ_INT(c->syn_from, 1);
    feed(r, 2, S2C, 501, 1001, A, "after synack");
    CHECK_STREAM(k, 2, 0, "after synack");
    tcpreasm_free(r);
    CHECK_EQ_INT(k->bad, 0);
    free(k);
}

static void data_on_the_syn_follows_it(void)
{
    struct sink *k = sink_new();
    struct tcpreasm *r = new_reasm(k, 0, 0);
    feed(r, 1, C2S, 7000, 0, S, "fastopen"); /* TCP Fast Open: data on the SYN */
    feed(r, 2, S2C, 100, 7009, S | A, "");
    feed(r, 3, C2S, 7009, 101, A, "+more");
    CHECK_STREAM(k, 0, C2S, "fastopen+more");
    tcpreasm_free(r);
    CHECK_EQ_INT(k->bad, 0);
    free(k);
}

static void syn_after_a_close_without_it_starts_anew(void)
{
    struct sink *k = sink_new();
    struct tcpreasm *r = new_reasm(k, 0, 0);
    /* only the server side was seen, and it reset */
    feed(r, 1, S2C, 100, 1, A, "data");
    CHECK(feed(r, 2, S2C, 104, 1, R, "") != NULL);
    CHECK_EQ_INT(k->opens, 1);
    CHECK(feed(r, 3, C2S, 5000, 0, S, "") != NULL);
    CHECK_EQ_INT(k->opens, 2);
    CHECK_EQ_INT(k->closes, 1);
    tcpreasm_free(r);
    CHECK_EQ_INT(k->bad, 0);
    free(k);
}

static void fin_both_ways_then_port_reuse(void)
{
    struct sink *k = sink_new();
    struct tcpreasm *r = new_reasm(k, 0, 0);
    struct tcpreasm_conn *c = handshake(r, 0, 100);
    feed(r, 4, C2S, 1, 101, A | F, "bye");
    CHECK_EQ_INT(count(k, 'e'), 1);
    CHECK_EQ_INT(nth(k, 'e', 0)->dir, C2S);
    CHECK(!c->closed);
    feed(r, 5, S2C, 101, 5, A | F, "ok");
    CHECK_EQ_INT(count(k, 'e'), 2);
    CHECK(c->closed);
    CHECK(c->dir[0].fin && c->dir[1].fin && c->dir[0].ended && c->dir[1].ended);
    /* the last ACK and a retransmitted FIN belong to the closed connection */
    CHECK(feed(r, 6, C2S, 5, 104, A, "") == NULL);
    CHECK(feed(r, 7, S2C, 101, 5, A | F, "ok") == NULL);
    CHECK_EQ_INT(tcpreasm_stats(r)->after_close_packets, 2);
    CHECK_EQ_INT(k->opens, 1);
    /* a new SYN on the same 4-tuple: the old record goes, a new one starts */
    struct tcpreasm_conn *c2 = feed(r, 8, C2S, 9000, 0, S, "");
    CHECK(c2 != NULL);
    CHECK_EQ_INT(k->closes, 1);
    CHECK_EQ_INT(k->opens, 2);
    feed(r, 9, C2S, 9001, 0, A, "again");
    CHECK_STREAM(k, 1, C2S, "again");
    /* a retransmitted SYN does not restart it */
    feed(r, 10, C2S, 9000, 0, S, "");
    CHECK_EQ_INT(k->opens, 2);
    CHECK_EQ_INT(tcpreasm_stats(r)->active, 1);
    tcpreasm_free(r);
    CHECK_EQ_INT(k->closes, 2);
    CHECK_EQ_INT(k->bad, 0);
    free(k);
}

static void rst_ends_both_directions_and_flushes(void)
{
    struct sink *k = sink_new();
    struct tcpreasm *r = new_reasm(k, 0, 0);
    struct tcpreasm_conn *c = handshake(r, 0, 100);
    feed(r, 4, S2C, 101, 1, A, "ab");
    feed(r, 5, S2C, 105, 1, A, "ef"); /* [103,105) missing */
    feed(r, 6, C2S, 1, 103, R | A, "");
    CHECK_EQ_INT(count(k, 'g'), 1);
    CHECK_EQ_INT(nth(k, 'g', 0)->reason, TCPREASM_GAP_RST);
    CHECK_EQ_INT(nth(k, 'g', 0)->frame, 6);
    CHECK_STREAM(k, 0, S2C, "ab~~ef");
    CHECK_EQ_INT(count(k, 'e'), 2);
    CHECK(nth(k, 'e', 0)->reset && nth(k, 'e', 1)->reset);
    CHECK_EQ_INT(nth(k, 'e', 0)->frame, 6);
    CHECK(c->reset && c->closed);
    CHECK(feed(r, 7, S2C, 107, 1, A, "late") == NULL);
    /* an RST without a connection creates nothing */
    client_port = 40001;
    CHECK(feed(r, 8, C2S, 1, 1, R, "") == NULL);
    client_port = 40000;
    CHECK_EQ_INT(k->opens, 1);
    tcpreasm_free(r);
    CHECK_EQ_INT(k->bad, 0);
    free(k);
}

static void window_overflow_bounds_memory(void)
{
    struct sink *k = sink_new();
    struct tcpreasm *r = new_reasm(k, 1000, 0);
    struct tcpreasm_conn *c = handshake(r, 0, 0);
    static char chunk[101];
    memset(chunk, 'x', 100);
    /* every other 100-byte segment is lost, 200 of them */
    uint64_t frame = 4;
    for (uint32_t i = 0; i < 200; i++)
        feed(r, frame++, S2C, 1 + 100 + i * 200, 1, A, chunk);
    const struct tcpreasm_stats *st = tcpreasm_stats(r);
    CHECK(st->buffered_peak <= 1000 + 100);
    CHECK(st->buffered_bytes <= 1000);
    /* each hole became a gap, and delivery kept going */
    CHECK(c->dir[S2C].gaps >= 189);
    CHECK(c->dir[S2C].bytes >= 18900);
    tcpreasm_flush_all(r);
    CHECK_EQ_INT(c->dir[S2C].gaps, 200);
    CHECK_EQ_INT(c->dir[S2C].gap_bytes, 20000);
    CHECK_EQ_INT(c->dir[S2C].bytes, 20000);
    CHECK_EQ_INT(st->buffered_bytes, 0);
    tcpreasm_free(r);
    CHECK_EQ_INT(k->bad, 0);
    free(k);
}

static void segment_count_limit(void)
{
    struct sink *k = sink_new();
    struct tcpreasm_opts o;
    tcpreasm_opts_default(&o);
    o.max_segments = 10;
    struct tcpreasm *r = tcpreasm_new(&o, &cbs, k, NULL);
    struct tcpreasm_conn *c = handshake(r, 0, 0);
    /* one-byte segments, each after a one-byte hole */
    for (uint32_t i = 0; i < 100; i++)
        feed(r, 4 + i, S2C, 2 + 2 * i, 1, A, "y");
    CHECK_EQ_INT(c->dir[S2C].ooo_segments, 100);
    CHECK(c->dir[S2C].gaps >= 90);
    CHECK(tcpreasm_stats(r)->buffered_bytes <= 10);
    tcpreasm_free(r);
    CHECK_EQ_INT(k->bad, 0);
    free(k);
}

static void hostile_sequence_jumps(void)
{
    struct sink *k = sink_new();
    struct tcpreasm *r = new_reasm(k, 4096, 0);
    struct tcpreasm_conn *c = handshake(r, 0, 0);
    feed(r, 4, S2C, 1, 1, A, "start");
    feed(r, 5, S2C, 1000000000u, 1, A, "far"); /* 1e9 ahead: a jump, not a buffer */
    CHECK_EQ_INT(count(k, 'g'), 1);
    CHECK_EQ_INT(nth(k, 'g', 0)->reason, TCPREASM_GAP_JUMP);
    CHECK_EQ_INT(nth(k, 'g', 0)->len, 1000000000u - 6);
    CHECK_EQ_INT(nth(k, 'g', 0)->frame_after, 5);
    CHECK_EQ_INT(c->dir[S2C].jumps, 1);
    CHECK_EQ_INT(tcpreasm_stats(r)->buffered_bytes, 0);
    feed(r, 6, S2C, 1000000003u, 1, A, "ther");
    CHECK_STREAM(k, 0, S2C, "startfarther");
    /* 3e9 "ahead" is 1.3e9 behind in serial arithmetic: old, dropped */
    uint64_t dup = c->dir[S2C].dup_bytes;
    feed(r, 7, S2C, 1000000007u + 3000000000u, 1, A, "junk");
    CHECK_EQ_INT(c->dir[S2C].dup_bytes, dup + 4);
    /* a storm of random sequence numbers never buffers more than the window */
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 5000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        feed(r, 8 + (uint64_t)i, S2C, (uint32_t)x, 1, A, "0123456789012345678901234567890123456789");
        if (tcpreasm_stats(r)->buffered_bytes > 4096)
            k->bad++;
    }
    CHECK(tcpreasm_stats(r)->buffered_peak <= 4096 + 40);
    tcpreasm_free(r);
    CHECK_EQ_INT(k->bad, 0);
    free(k);
}

static void connection_table_full(void)
{
    struct sink *k = sink_new();
    struct tcpreasm *r = new_reasm(k, 0, 2);
    client_port = 1;
    struct tcpreasm_conn *a = handshake(r, 0, 0);
    client_port = 2;
    CHECK(handshake(r, 0, 0) != NULL);
    client_port = 3;
    CHECK(feed(r, 10, C2S, 0, 0, S, "") == NULL);
    CHECK(feed(r, 11, C2S, 1, 0, A, "ignored") == NULL);
    CHECK_EQ_INT(tcpreasm_stats(r)->refused_packets, 2);
    CHECK_EQ_INT(k->opens, 2);
    /* connection 1 closes; the next new one evicts it */
    client_port = 1;
    feed(r, 12, C2S, 1, 1, A | F, "");
    feed(r, 13, S2C, 1, 2, A | F, "");
    CHECK(a->closed);
    client_port = 3;
    struct tcpreasm_conn *c = feed(r, 14, C2S, 0, 0, S, "");
    CHECK(c != NULL);
    CHECK_EQ_INT(tcpreasm_stats(r)->conns_evicted, 1);
    CHECK_EQ_INT(k->closes, 1);
    CHECK_EQ_INT(nth(k, 'c', 0)->conn, 0);
    CHECK_EQ_INT(tcpreasm_stats(r)->active, 2);
    CHECK_EQ_INT(tcpreasm_stats(r)->conns, 3);
    client_port = 40000;
    tcpreasm_free(r);
    CHECK_EQ_INT(k->closes, 3);
    CHECK_EQ_INT(k->bad, 0);
    free(k);
}

static void snaplen_cut_is_a_gap_where_it_falls(void)
{
    struct sink *k = sink_new();
    struct tcpreasm *r = new_reasm(k, 0, 0);
    handshake(r, 0, 100);
    struct pkt p = seg(4, S2C, 101, 1, A, "RTSP/1.0 200 OK");
    p.payload_len = 4; /* only "RTSP" captured */
    tcpreasm_packet(r, &p);
    CHECK_EQ_INT(count(k, 'g'), 1);
    CHECK_EQ_INT(nth(k, 'g', 0)->reason, TCPREASM_GAP_SNAPLEN);
    CHECK_EQ_INT(nth(k, 'g', 0)->len, 11);
    CHECK_EQ_INT(nth(k, 'g', 0)->frame, 4);
    /* a cut segment out of order keeps its hole until delivered */
    p = seg(5, S2C, 126, 1, A, "0123456789");
    p.payload_len = 3;
    tcpreasm_packet(r, &p);
    feed(r, 6, S2C, 116, 1, A, "abcdefghij");
    CHECK_STREAM(k, 0, S2C, "RTSP~~~~~~~~~~~abcdefghij012~~~~~~~");
    CHECK_EQ_INT(count(k, 'g'), 2);
    CHECK_EQ_INT(nth(k, 'g', 1)->frame, 5);
    /* fragments and non-TCP packets are not fed to streams */
    p = seg(7, S2C, 136, 1, A, "frag");
    p.fragment = true;
    CHECK(tcpreasm_packet(r, &p) == NULL);
    p.fragment = false;
    p.l4 = PKT_L4_UDP;
    CHECK(tcpreasm_packet(r, &p) == NULL);
    CHECK_EQ_INT(tcpreasm_stats(r)->ignored_packets, 2);
    tcpreasm_free(r);
    CHECK_EQ_INT(k->bad, 0);
    free(k);
}

static void ipv6_connections_are_keyed_by_address(void)
{
    struct sink *k = sink_new();
    struct tcpreasm *r = new_reasm(k, 0, 0);
    struct pkt a = seg(1, C2S, 10, 0, A, "v6-a");
    a.ip_version = 6;
    a.src = (struct pkt_endpoint){6, {0x20, 0x01, 0x0d, 0xb8, [15] = 2}, 40000};
    a.dst = (struct pkt_endpoint){6, {0x20, 0x01, 0x0d, 0xb8, [15] = 1}, 554};
    struct pkt b = a;
    b.dst.addr[15] = 3; /* another server, same ports */
    b.frame = 2;
    b.payload = (const uint8_t *)"v6-b";
    struct pkt back = a;
    back.src = a.dst;
    back.dst = a.src;
    back.frame = 3;
    back.tcp_seq = 99;
    back.payload = (const uint8_t *)"back";
    struct tcpreasm_conn *ca = tcpreasm_packet(r, &a);
    struct tcpreasm_conn *cb = tcpreasm_packet(r, &b);
    CHECK(tcpreasm_packet(r, &back) == ca);
    CHECK(ca != cb);
    CHECK_EQ_INT(k->opens, 2);
    CHECK_STREAM(k, 0, 0, "v6-a");
    CHECK_STREAM(k, 0, 1, "back");
    CHECK_STREAM(k, 1, 0, "v6-b");
    tcpreasm_free(r);
    CHECK_EQ_INT(k->bad, 0);
    free(k);
}

static void bad_options_are_refused(void)
{
    struct tcpreasm_opts o;
    const char *why = NULL;
    tcpreasm_opts_default(&o);
    CHECK_EQ_INT(o.window_bytes, 4u << 20);
    o.window_bytes = 0;
    CHECK(tcpreasm_new(&o, &cbs, NULL, &why) == NULL);
    CHECK(why && strstr(why, "window"));
    tcpreasm_opts_default(&o);
    o.window_bytes = (size_t)3 << 30;
    CHECK(tcpreasm_new(&o, &cbs, NULL, NULL) == NULL);
    tcpreasm_opts_default(&o);
    o.max_conns = 0;
    why = NULL;
    CHECK(tcpreasm_new(&o, &cbs, NULL, &why) == NULL);
    CHECK(why && strstr(why, "max_conns"));
    struct tcpreasm *r = tcpreasm_new(NULL, NULL, NULL, NULL); /* defaults, no sink */
    CHECK(r != NULL);
    struct pkt p = seg(1, C2S, 1, 0, A, "nobody listens");
    CHECK(tcpreasm_packet(r, &p) != NULL);
    tcpreasm_flush_all(r);
    tcpreasm_free(r);
    tcpreasm_free(NULL);
    CHECK(strcmp(tcpreasm_gap_reason_name(TCPREASM_GAP_SNAPLEN), "snaplen") == 0);
}

int main(void)
{
    RUN(in_order_both_directions);
    RUN(out_of_order_is_buffered_then_delivered);
    RUN(retransmissions_are_dropped);
    RUN(overlaps_keep_first_received_bytes);
    RUN(missing_segment_gap_on_window_then_resume);
    RUN(missing_segment_gap_when_the_peer_acknowledges_it);
    RUN(missing_segment_gap_when_buffer_outgrows_window);
    RUN(global_buffer_limit);
    RUN(missing_segment_gap_at_flush);
    RUN(fin_with_hole_waits_for_ack_then_gaps);
    RUN(wrap_at_2_32);
    RUN(connection_without_syn_starts_at_first_segment);
    RUN(data_on_the_syn_follows_it);
    RUN(syn_after_a_close_without_it_starts_anew);
    RUN(fin_both_ways_then_port_reuse);
    RUN(rst_ends_both_directions_and_flushes);
    RUN(window_overflow_bounds_memory);
    RUN(segment_count_limit);
    RUN(hostile_sequence_jumps);
    RUN(connection_table_full);
    RUN(snaplen_cut_is_a_gap_where_it_falls);
    RUN(ipv6_connections_are_keyed_by_address);
    RUN(bad_options_are_refused);
    CHECK_DONE();
}
