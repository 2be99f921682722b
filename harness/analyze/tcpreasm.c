/* TCP reassembly per connection and direction; see tcpreasm.h.
 *
 * Each direction keeps next_seq, the first byte not yet delivered or
 * given up, and a sorted list of disjoint buffered segments that all start
 * after next_seq and less than the window ahead of it. Sequence numbers are
 * compared relative to next_seq in 32-bit serial arithmetic, which makes
 * the wrap at 2^32 invisible as long as everything stays within 2^31 of
 * next_seq; the window limit (< 2^30) guarantees that. */
#include "tcpreasm.h"

#include <stdlib.h>
#include <string.h>

/* A buffered out-of-order piece of a stream. Its sequence space is
 * [seq, seq + len); the first data_len bytes were captured, the rest were
 * cut by the snap length and become a gap when delivered. */
struct seg {
    struct seg *next; /* next piece in sequence order */
    uint32_t seq;     /* first sequence number */
    uint32_t len;     /* sequence space covered */
    uint32_t data_len; /* captured bytes at the start, <= len */
    uint64_t frame;   /* frame that carried it */
    int64_t ts_ns;    /* that frame's time */
    uint8_t data[];   /* data_len bytes */
};

/* Reassembly state of one direction. */
struct half {
    bool started;        /* next_seq is set */
    uint32_t next_seq;   /* first byte not yet delivered or given up */
    uint32_t syn_seq;    /* sequence number of the SYN, when the public dir says syn */
    uint32_t fin_seq;    /* sequence number the FIN occupies, when the public dir says fin */
    uint64_t offset;     /* stream bytes delivered or reported missing */
    uint64_t last_frame; /* frame of the last byte delivered */
    int64_t avail_ns;    /* when the last byte delivered became available in order */
    struct seg *head;    /* buffered pieces, in order */
    struct seg *tail;    /* last of them */
    size_t nseg;         /* pieces buffered */
    size_t buffered;     /* captured bytes buffered */
};

struct conn {
    struct tcpreasm_conn pub;   /* first, so that callbacks' pointers convert back */
    struct half half[2];        /* indexed like pub.dir */
    uint64_t hash;              /* of the unordered endpoint pair */
    struct conn *hnext;         /* hash chain */
    struct conn *prev, *next;   /* every connection, oldest first */
    struct conn *cprev, *cnext; /* closed connections, first closed first */
};

struct tcpreasm {
    struct tcpreasm_opts o;
    struct tcpreasm_callbacks cb;
    void *ctx;
    struct conn **buckets;
    size_t mask;                /* buckets - 1 (a power of two) */
    struct conn *first, *last;  /* all connections */
    struct conn *cfirst, *clast; /* closed connections */
    struct tcpreasm_stats st;
};

/* x relative to base: the order of sequence numbers at or after base,
 * across the wrap. */
static inline uint32_t rel(uint32_t x, uint32_t base)
{
    return x - base;
}

void tcpreasm_opts_default(struct tcpreasm_opts *o)
{
    o->window_bytes = TCPREASM_DEFAULT_WINDOW_BYTES;
    o->max_segments = TCPREASM_DEFAULT_MAX_SEGMENTS;
    o->max_conns = TCPREASM_DEFAULT_MAX_CONNS;
    o->max_buffered_bytes = TCPREASM_DEFAULT_MAX_BUFFERED_BYTES;
}

const char *tcpreasm_gap_reason_name(enum tcpreasm_gap_reason r)
{
    switch (r) {
    case TCPREASM_GAP_WINDOW: return "window";
    case TCPREASM_GAP_JUMP: return "jump";
    case TCPREASM_GAP_FIN: return "fin";
    case TCPREASM_GAP_RST: return "rst";
    case TCPREASM_GAP_FLUSH: return "flush";
    case TCPREASM_GAP_SNAPLEN: return "snaplen";
    case TCPREASM_GAP_ACKED: return "acked";
    }
    return "?";
}

struct tcpreasm *tcpreasm_new(const struct tcpreasm_opts *o, const struct tcpreasm_callbacks *cb,
                              void *ctx, const char **why)
{
    struct tcpreasm_opts d;
    if (!o) {
        tcpreasm_opts_default(&d);
        o = &d;
    }
    const char *bad = NULL;
    if (o->window_bytes == 0 || o->window_bytes > TCPREASM_MAX_WINDOW_BYTES)
        bad = "window_bytes must be between 1 and 1 GiB";
    else if (o->max_segments == 0)
        bad = "max_segments must be at least 1";
    else if (o->max_conns == 0 || o->max_conns > ((size_t)1 << 24))
        bad = "max_conns must be between 1 and 2^24";
    else if (o->max_buffered_bytes == 0)
        bad = "max_buffered_bytes must be at least 1";
    if (bad) {
        if (why)
            *why = bad;
        return NULL;
    }
    struct tcpreasm *r = calloc(1, sizeof(*r));
    size_t n = 16;
    while (n < o->max_conns * 2)
        n *= 2;
    if (r)
        r->buckets = calloc(n, sizeof(*r->buckets));
    if (!r || !r->buckets) {
        free(r);
        if (why)
            *why = "out of memory";
        return NULL;
    }
    r->o = *o;
    if (cb)
        r->cb = *cb;
    r->ctx = ctx;
    r->mask = n - 1;
    return r;
}

const struct tcpreasm_stats *tcpreasm_stats(const struct tcpreasm *r)
{
    return &r->st;
}

/* ---- hashing and the connection table ---- */

static uint64_t mix64(uint64_t h)
{
    h ^= h >> 31;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return h;
}

/* Cheap on purpose (it runs for every packet); pair_hash mixes the sum. */
static uint64_t ep_hash(const struct pkt_endpoint *e)
{
    uint64_t a, b;
    memcpy(&a, e->addr, 8);
    memcpy(&b, e->addr + 8, 8);
    return (a ^ (b * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)e->port << 32 | e->family)) *
           0xff51afd7ed558ccdull;
}

/* The same for both directions of a connection. */
static uint64_t pair_hash(const struct pkt_endpoint *a, const struct pkt_endpoint *b)
{
    return mix64(ep_hash(a) + ep_hash(b));
}

static struct conn *lookup(struct tcpreasm *r, const struct pkt *p, uint64_t hash, int *dir)
{
    for (struct conn *c = r->buckets[hash & r->mask]; c; c = c->hnext) {
        if (c->hash != hash)
            continue;
        if (pkt_endpoint_eq(&c->pub.ep[0], &p->src) && pkt_endpoint_eq(&c->pub.ep[1], &p->dst)) {
            *dir = 0;
            return c;
        }
        if (pkt_endpoint_eq(&c->pub.ep[0], &p->dst) && pkt_endpoint_eq(&c->pub.ep[1], &p->src)) {
            *dir = 1;
            return c;
        }
    }
    return NULL;
}

static void closed_unlink(struct tcpreasm *r, struct conn *c)
{
    if (c->cprev)
        c->cprev->cnext = c->cnext;
    else if (r->cfirst == c)
        r->cfirst = c->cnext;
    if (c->cnext)
        c->cnext->cprev = c->cprev;
    else if (r->clast == c)
        r->clast = c->cprev;
    c->cprev = c->cnext = NULL;
}

static void free_segments(struct tcpreasm *r, struct half *h)
{
    struct seg *s = h->head;
    while (s) {
        struct seg *n = s->next;
        r->st.buffered_bytes -= s->data_len;
        free(s);
        s = n;
    }
    h->head = h->tail = NULL;
    h->nseg = 0;
    h->buffered = 0;
}

/* on_close, then unlink and free c. */
static void release(struct tcpreasm *r, struct conn *c)
{
    if (r->cb.on_close)
        r->cb.on_close(r->ctx, &c->pub);
    free_segments(r, &c->half[0]);
    free_segments(r, &c->half[1]);
    struct conn **pp = &r->buckets[c->hash & r->mask];
    while (*pp != c)
        pp = &(*pp)->hnext;
    *pp = c->hnext;
    if (c->prev)
        c->prev->next = c->next;
    else
        r->first = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        r->last = c->prev;
    if (c->pub.closed)
        closed_unlink(r, c);
    r->st.active--;
    free(c);
}

static struct conn *create(struct tcpreasm *r, const struct pkt *p, uint64_t hash)
{
    if (r->st.active >= r->o.max_conns) {
        if (!r->cfirst)
            return NULL;
        release(r, r->cfirst);
        r->st.conns_evicted++;
    }
    struct conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->pub.ep[0] = p->src;
    c->pub.ep[1] = p->dst;
    c->pub.syn_from = -1;
    if (p->tcp_flags & PKT_TCP_SYN) /* set before on_open, which may want it */
        c->pub.syn_from = (p->tcp_flags & PKT_TCP_ACK) ? 1 : 0;
    c->pub.first_frame = c->pub.last_frame = p->frame;
    c->pub.first_ts_ns = c->pub.last_ts_ns = p->ts_ns;
    c->hash = hash;
    c->hnext = r->buckets[hash & r->mask];
    r->buckets[hash & r->mask] = c;
    c->prev = r->last;
    if (r->last)
        r->last->next = c;
    else
        r->first = c;
    r->last = c;
    r->st.active++;
    r->st.conns++;
    if (r->cb.on_open)
        r->cb.on_open(r->ctx, &c->pub, p);
    return c;
}

/* ---- delivery ---- */

static void deliver(struct tcpreasm *r, struct conn *c, int dir, const uint8_t *data, size_t len,
                    uint64_t frame, int64_t ts_ns)
{
    struct half *h = &c->half[dir];
    /* Bytes buffered behind a hole reach the application only when the
     * hole is filled: a receiver sees them then (head-of-line blocking),
     * so their time is never earlier than the bytes before them. */
    if (ts_ns < h->avail_ns)
        ts_ns = h->avail_ns;
    h->avail_ns = ts_ns;
    struct tcpreasm_chunk k = {data, len, h->offset, frame, ts_ns};
    if (r->cb.on_data)
        r->cb.on_data(r->ctx, &c->pub, dir, &k);
    h->offset += len;
    h->last_frame = frame;
    c->pub.dir[dir].bytes += len;
}

static void gap(struct tcpreasm *r, struct conn *c, int dir, uint64_t missing,
                enum tcpreasm_gap_reason reason, uint64_t frame, int64_t ts_ns, uint64_t frame_after)
{
    struct half *h = &c->half[dir];
    struct tcpreasm_gap g = {missing, h->offset, frame, ts_ns, h->last_frame, frame_after, reason};
    if (r->cb.on_gap)
        r->cb.on_gap(r->ctx, &c->pub, dir, &g);
    h->offset += missing;
    c->pub.dir[dir].gap_bytes += missing;
    c->pub.dir[dir].gaps++;
}

/* Deliver [from, to) of a segment whose sequence space starts at seq and
 * whose first data_len bytes are at data; the uncaptured rest is a gap.
 * Advances next_seq to to. */
static void emit(struct tcpreasm *r, struct conn *c, int dir, uint32_t seq, const uint8_t *data,
                 uint32_t data_len, uint32_t from, uint32_t to, uint64_t frame, int64_t ts_ns)
{
    uint32_t a = from - seq, b = to - seq;
    if (a < data_len) {
        uint32_t e = b < data_len ? b : data_len;
        deliver(r, c, dir, data + a, e - a, frame, ts_ns);
    }
    if (b > data_len) {
        uint32_t ha = a > data_len ? a : data_len;
        gap(r, c, dir, b - ha, TCPREASM_GAP_SNAPLEN, frame, ts_ns, 0);
    }
    c->half[dir].next_seq = to;
}

static void pop_head(struct tcpreasm *r, struct half *h)
{
    struct seg *s = h->head;
    h->head = s->next;
    if (!h->head)
        h->tail = NULL;
    h->nseg--;
    h->buffered -= s->data_len;
    r->st.buffered_bytes -= s->data_len;
    free(s);
}

/* Deliver the first buffered piece from next_seq on (nothing when next_seq
 * is already past it) and drop it. */
static void deliver_head(struct tcpreasm *r, struct conn *c, int dir)
{
    struct half *h = &c->half[dir];
    struct seg *s = h->head;
    uint32_t end = s->seq + s->len;
    if ((int32_t)(end - h->next_seq) > 0)
        emit(r, c, dir, s->seq, s->data, s->data_len, h->next_seq, end, s->frame, s->ts_ns);
    pop_head(r, h);
}

/* Deliver buffered pieces that next_seq has reached. */
static void drain(struct tcpreasm *r, struct conn *c, int dir)
{
    struct half *h = &c->half[dir];
    while (h->head && (int32_t)(h->head->seq - h->next_seq) <= 0)
        deliver_head(r, c, dir);
}

/* Give up the hole before the first buffered piece and deliver from it on. */
static void skip_to_head(struct tcpreasm *r, struct conn *c, int dir,
                         enum tcpreasm_gap_reason reason, uint64_t frame, int64_t ts_ns)
{
    struct half *h = &c->half[dir];
    struct seg *s = h->head;
    uint32_t missing = s->seq - h->next_seq;
    if ((int32_t)missing > 0) {
        gap(r, c, dir, missing, reason, frame, ts_ns, s->frame);
        h->next_seq = s->seq;
    }
    drain(r, c, dir);
}

/* Deliver everything buffered, giving up the holes, and the bytes up to a
 * seen FIN. */
static void flush_half(struct tcpreasm *r, struct conn *c, int dir,
                       enum tcpreasm_gap_reason reason, uint64_t frame, int64_t ts_ns)
{
    struct half *h = &c->half[dir];
    while (h->head)
        skip_to_head(r, c, dir, reason, frame, ts_ns);
    if (c->pub.dir[dir].fin && (int32_t)(h->fin_seq - h->next_seq) > 0) {
        gap(r, c, dir, h->fin_seq - h->next_seq, reason, frame, ts_ns, 0);
        h->next_seq = h->fin_seq;
    }
}

static void end_dir(struct tcpreasm *r, struct conn *c, int dir, bool reset, uint64_t frame)
{
    c->pub.dir[dir].ended = true;
    if (r->cb.on_end)
        r->cb.on_end(r->ctx, &c->pub, dir, reset, frame);
}

static void mark_closed(struct tcpreasm *r, struct conn *c)
{
    if (c->pub.closed)
        return;
    c->pub.closed = true;
    c->cprev = r->clast;
    if (r->clast)
        r->clast->cnext = c;
    else
        r->cfirst = c;
    r->clast = c;
}

/* End the direction when its FIN was seen and every byte before it is through. */
static void maybe_end(struct tcpreasm *r, struct conn *c, int dir, uint64_t frame)
{
    struct half *h = &c->half[dir];
    if (c->pub.dir[dir].fin && !c->pub.dir[dir].ended && !h->head &&
        (int32_t)(h->next_seq - h->fin_seq) >= 0)
        end_dir(r, c, dir, false, frame);
}

/* Copy [from, to) of a segment into the buffer in front of *pp. */
static struct seg *new_piece(struct tcpreasm *r, struct conn *c, int dir, uint32_t seq,
                             const uint8_t *data, uint32_t data_len, uint32_t from, uint32_t to,
                             const struct pkt *p)
{
    struct half *h = &c->half[dir];
    uint32_t a = from - seq, b = to - seq;
    uint32_t n = a < data_len ? (b < data_len ? b : data_len) - a : 0;
    struct seg *s = malloc(sizeof(*s) + n);
    if (!s) {
        r->st.nomem_bytes += to - from;
        return NULL;
    }
    s->next = NULL;
    s->seq = from;
    s->len = to - from;
    s->data_len = n;
    s->frame = p->frame;
    s->ts_ns = p->ts_ns;
    if (n)
        memcpy(s->data, data + a, n);
    h->nseg++;
    h->buffered += n;
    r->st.buffered_bytes += n;
    if (r->st.buffered_bytes > r->st.buffered_peak)
        r->st.buffered_peak = r->st.buffered_bytes;
    return s;
}

/* Buffer a segment that starts after next_seq, keeping bytes already
 * buffered where it overlaps them. */
static void buffer_segment(struct tcpreasm *r, struct conn *c, int dir, uint32_t seq,
                           const uint8_t *data, uint32_t data_len, uint32_t len, const struct pkt *p)
{
    struct half *h = &c->half[dir];
    uint32_t base = h->next_seq;
    uint32_t cur = seq, end = seq + len;
    struct seg **pp = &h->head;
    /* Segments usually arrive in order after the hole: start at the tail. */
    if (h->tail && rel(h->tail->seq + h->tail->len, base) <= rel(cur, base))
        pp = &h->tail->next;
    c->pub.dir[dir].ooo_segments++;
    while (rel(cur, base) < rel(end, base)) {
        struct seg *s = *pp;
        if (s && rel(s->seq + s->len, base) <= rel(cur, base)) {
            pp = &s->next;
            continue;
        }
        if (s && rel(s->seq, base) <= rel(cur, base)) { /* already buffered: first received wins */
            uint32_t stop = rel(s->seq + s->len, base) < rel(end, base) ? s->seq + s->len : end;
            c->pub.dir[dir].dup_bytes += stop - cur;
            cur = stop;
            pp = &s->next;
            continue;
        }
        uint32_t stop = s && rel(s->seq, base) < rel(end, base) ? s->seq : end;
        struct seg *n = new_piece(r, c, dir, seq, data, data_len, cur, stop, p);
        if (n) {
            n->next = s;
            *pp = n;
            if (!s)
                h->tail = n;
            pp = &n->next;
        }
        cur = stop;
    }
}

/* Deliver a segment that starts at or before next_seq; buffered bytes it
 * overlaps were received first and win. */
static void deliver_segment(struct tcpreasm *r, struct conn *c, int dir, uint32_t seq,
                            const uint8_t *data, uint32_t data_len, uint32_t len, const struct pkt *p)
{
    struct half *h = &c->half[dir];
    uint32_t end = seq + len;
    c->pub.dir[dir].dup_bytes += h->next_seq - seq;
    while ((int32_t)(end - h->next_seq) > 0) {
        struct seg *s = h->head;
        if (s && (int32_t)(s->seq - h->next_seq) <= 0) {
            uint32_t s_end = s->seq + s->len;
            uint32_t stop = (int32_t)(s_end - end) < 0 ? s_end : end;
            if ((int32_t)(stop - h->next_seq) > 0)
                c->pub.dir[dir].dup_bytes += stop - h->next_seq;
            deliver_head(r, c, dir);
            continue;
        }
        uint32_t stop = s && (int32_t)(s->seq - end) < 0 ? s->seq : end;
        emit(r, c, dir, seq, data, data_len, h->next_seq, stop, p->frame, p->ts_ns);
    }
    drain(r, c, dir);
}

static void segment(struct tcpreasm *r, struct conn *c, int dir, uint32_t seq, const struct pkt *p)
{
    struct half *h = &c->half[dir];
    struct tcpreasm_dir *d = &c->pub.dir[dir];
    uint32_t len = (uint32_t)p->payload_wire_len;
    uint32_t data_len = (uint32_t)(p->payload_len < p->payload_wire_len ? p->payload_len
                                                                         : p->payload_wire_len);
    if (d->ended) { /* after the FIN or a reset: nothing more belongs to the stream */
        d->dup_bytes += len;
        return;
    }
    int32_t ahead = (int32_t)(seq - h->next_seq);
    if ((int64_t)ahead + len <= 0) { /* entirely old: a retransmission or keep-alive */
        d->dup_bytes += len;
        return;
    }
    /* Beyond the window: the data after the hole has outgrown it; give up
     * holes until the segment fits, or jump to it when nothing buffered
     * leads there. */
    while (ahead > 0 && (uint32_t)ahead > r->o.window_bytes && h->head) {
        skip_to_head(r, c, dir, TCPREASM_GAP_WINDOW, p->frame, p->ts_ns);
        ahead = (int32_t)(seq - h->next_seq);
    }
    if (ahead > 0 && (uint32_t)ahead > r->o.window_bytes) {
        d->jumps++;
        gap(r, c, dir, (uint32_t)ahead, TCPREASM_GAP_JUMP, p->frame, p->ts_ns, p->frame);
        h->next_seq = seq;
        ahead = 0;
    }
    if (ahead <= 0) {
        deliver_segment(r, c, dir, seq, p->payload, data_len, len, p);
        return;
    }
    buffer_segment(r, c, dir, seq, p->payload, data_len, len, p);
    while (h->head && (h->buffered > r->o.window_bytes || h->nseg > r->o.max_segments ||
                       r->st.buffered_bytes > r->o.max_buffered_bytes))
        skip_to_head(r, c, dir, TCPREASM_GAP_WINDOW, p->frame, p->ts_ns);
}

static void reset_conn(struct tcpreasm *r, struct conn *c, const struct pkt *p)
{
    c->pub.reset = true;
    for (int d = 0; d < 2; d++) {
        if (c->pub.dir[d].ended)
            continue;
        flush_half(r, c, d, TCPREASM_GAP_RST, p->frame, p->ts_ns);
        end_dir(r, c, d, true, p->frame);
    }
    mark_closed(r, c);
}

/* Give up a connection whose 4-tuple a new SYN reuses before it closed. */
static void abandon(struct tcpreasm *r, struct conn *c, const struct pkt *p)
{
    for (int d = 0; d < 2; d++)
        if (!c->pub.dir[d].ended)
            flush_half(r, c, d, TCPREASM_GAP_FLUSH, p->frame, p->ts_ns);
    release(r, c);
}

struct tcpreasm_conn *tcpreasm_packet(struct tcpreasm *r, const struct pkt *p)
{
    r->st.packets++;
    if (p->l4 != PKT_L4_TCP || p->fragment) {
        r->st.ignored_packets++;
        return NULL;
    }
    uint8_t fl = p->tcp_flags;
    bool syn = fl & PKT_TCP_SYN, ack = fl & PKT_TCP_ACK;
    uint64_t hash = pair_hash(&p->src, &p->dst);
    int dir = 0;
    struct conn *c = lookup(r, p, hash, &dir);
    if (c && syn && !ack) {
        /* A SYN with a new initial sequence number opens a new connection
         * on the same 4-tuple; a retransmitted SYN does not. */
        const struct half *h = &c->half[dir];
        bool same = c->pub.dir[dir].syn && h->syn_seq == p->tcp_seq;
        if (!same && (c->pub.closed || h->started)) {
            if (c->pub.closed)
                release(r, c);
            else
                abandon(r, c, p);
            c = NULL;
        }
    }
    if (c && c->pub.closed) {
        r->st.after_close_packets++;
        return NULL;
    }
    if (!c) {
        if (fl & PKT_TCP_RST) { /* nothing to reset */
            r->st.ignored_packets++;
            return NULL;
        }
        c = create(r, p, hash);
        if (!c) {
            r->st.refused_packets++;
            return NULL;
        }
        dir = 0;
    }
    c->pub.last_frame = p->frame;
    c->pub.last_ts_ns = p->ts_ns;
    struct tcpreasm_dir *d = &c->pub.dir[dir];
    struct half *h = &c->half[dir];
    d->segments++;
    if (fl & PKT_TCP_RST) {
        reset_conn(r, c, p);
        return &c->pub;
    }

    uint32_t seq = p->tcp_seq;
    if (syn) {
        if (!d->syn) {
            d->syn = true;
            h->syn_seq = seq;
            if (!h->started) {
                h->started = true;
                h->next_seq = seq + 1;
            }
            if (c->pub.syn_from < 0)
                c->pub.syn_from = ack ? !dir : dir;
        }
        seq++; /* the SYN occupies one sequence number; data follows it */
    }
    if (!h->started) { /* seen without its SYN: start here */
        h->started = true;
        h->next_seq = seq;
    }
    if (p->payload_wire_len > 0)
        segment(r, c, dir, seq, p);
    if ((fl & PKT_TCP_FIN) && !d->fin) {
        d->fin = true;
        h->fin_seq = seq + (uint32_t)p->payload_wire_len;
    }
    maybe_end(r, c, dir, p->frame);

    /* What the peer acknowledges it has received: a hole it covers was
     * lost by the capture, not the network (a retransmission would come
     * before the acknowledgment), so give it up now rather than when the
     * window fills. Likewise for everything before an acknowledged FIN. */
    int o = !dir;
    struct half *oh = &c->half[o];
    if (ack && oh->started && !c->pub.dir[o].ended) {
        while (oh->head && (int32_t)(p->tcp_ack - oh->head->seq) >= 0 &&
               (int32_t)(p->tcp_ack - oh->next_seq) <= (int32_t)TCPREASM_MAX_WINDOW_BYTES)
            skip_to_head(r, c, o, TCPREASM_GAP_ACKED, p->frame, p->ts_ns);
        if (c->pub.dir[o].fin && (int32_t)(p->tcp_ack - (oh->fin_seq + 1)) >= 0) {
            flush_half(r, c, o, TCPREASM_GAP_FIN, p->frame, p->ts_ns);
            end_dir(r, c, o, false, p->frame);
        } else {
            maybe_end(r, c, o, p->frame);
        }
    }
    if (c->pub.dir[0].ended && c->pub.dir[1].ended)
        mark_closed(r, c);
    return &c->pub;
}

void tcpreasm_flush_all(struct tcpreasm *r)
{
    for (struct conn *c = r->first; c; c = c->next) {
        for (int d = 0; d < 2; d++) {
            if (c->pub.dir[d].ended)
                continue;
            flush_half(r, c, d, TCPREASM_GAP_FLUSH, c->pub.last_frame, c->pub.last_ts_ns);
            if (c->pub.dir[d].fin)
                end_dir(r, c, d, false, c->pub.last_frame);
        }
        if (c->pub.dir[0].ended && c->pub.dir[1].ended)
            mark_closed(r, c);
    }
}

void tcpreasm_free(struct tcpreasm *r)
{
    if (!r)
        return;
    while (r->first)
        release(r, r->first);
    free(r->buckets);
    free(r);
}
