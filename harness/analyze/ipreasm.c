/* IP fragment reassembly for the analyzer: IPv4 and IPv6 fragments back
 * into whole datagrams, bounded in memory and time; see ipreasm.h.
 *
 * RFC 815's hole list is kept as a bitmap of 8-byte blocks (fragment
 * offsets count in 8-byte units, and every fragment but the last holds a
 * multiple of 8 bytes), so a fragment's blocks say at once whether it is
 * new, a duplicate or an overlap. Since overlapping fragments are never
 * kept, the bytes received add up to the datagram exactly when every hole
 * is filled. Each datagram's data sits after HEADROOM spare bytes, where
 * its IP header is rebuilt when it completes, so it is decoded in place. */
#include "ipreasm.h"

#include <stdlib.h>
#include <string.h>

#include "wire.h"

#define HEADROOM 40                                   /* room for the rebuilt IPv6 (or IPv4) header */
#define BLOCKS ((IPREASM_MAX_DATAGRAM + 7) / 8)       /* 8-byte blocks of the largest datagram */
#define BLOCK_WORDS ((BLOCKS + 63) / 64)              /* 64-bit words of the block bitmap */
#define MAX_DATAGRAMS_LIMIT (1u << 24)                /* largest max_datagrams accepted */
#define REBUILT_TTL 64                                /* TTL / hop limit written into a rebuilt header */
#define RECENT 1024                                   /* slots remembering datagrams handed out (a power of two) */

/* A datagram under reassembly, or discarded and absorbing its fragments. */
struct dgram {
    uint8_t version;              /* 4 or 6 */
    uint8_t proto;                /* IPv4: protocol (part of the key); IPv6: next header of the offset-0 fragment */
    uint32_t id;                  /* identification */
    uint8_t src[16];              /* source address as in struct pkt_endpoint */
    uint8_t dst[16];              /* destination address */
    uint32_t hash;                /* of the key: picks the hash bucket and the recent slot */
    bool dead;                    /* discarded: later fragments are absorbed until the timeout */
    bool have_last;               /* the fragment without MF/M came: total is known */
    uint32_t total;               /* data bytes of the datagram, once have_last */
    uint32_t high;                /* highest data end of the fragments kept */
    uint32_t received;            /* data bytes kept (never overlapping, so their union) */
    uint32_t cut_at;              /* the capture holds every data byte below this offset */
    uint32_t frags;               /* fragments kept */
    int64_t created_ns;           /* capture time when the first fragment came */
    uint8_t *buf;                 /* HEADROOM bytes, then the data at its offsets; NULL when none yet */
    size_t buf_cap;               /* bytes allocated at buf */
    struct dgram *older;          /* age list: the next older datagram */
    struct dgram *newer;          /* age list: the next newer datagram */
    struct dgram *next;           /* hash chain */
    uint64_t blocks[BLOCK_WORDS]; /* bit per 8-byte block of data kept */
};

/* A datagram handed out: fragments of it that come later (a network that
 * duplicates) start a new reassembly, as in a receiver; when that one is
 * given up, this says its fragments were late duplicates, not a loss.
 * Slots are picked by key hash; a newer datagram takes an older one's. */
struct recent {
    uint8_t version;   /* 4 or 6; 0 for an unused slot */
    uint8_t proto;     /* as in struct dgram */
    uint32_t id;       /* identification */
    uint8_t src[16];   /* source address */
    uint8_t dst[16];   /* destination address */
    uint32_t total;    /* its data bytes */
    int64_t done_ns;   /* capture time it completed */
};

/* The reassembler. */
struct ipreasm {
    struct ipreasm_opts o;       /* limits */
    struct dgram **buckets;      /* hash table of datagrams by key */
    size_t n_buckets;            /* a power of two */
    struct dgram *oldest;        /* age list head: evicted and timed out first */
    struct dgram *newest;        /* age list tail */
    int64_t now_ns;              /* capture time: the latest fragment time seen */
    bool have_now;               /* now_ns is set */
    uint8_t *out_buf;            /* buffer of the datagram last handed out */
    struct recent recent[RECENT];/* datagrams handed out lately, by key hash */
    struct ipreasm_stats st;     /* counters */
};

void ipreasm_opts_default(struct ipreasm_opts *o)
{
    o->max_datagrams = IPREASM_DEFAULT_MAX_DATAGRAMS;
    o->max_bytes = IPREASM_DEFAULT_MAX_BYTES;
    o->timeout_ns = IPREASM_DEFAULT_TIMEOUT_NS;
}

struct ipreasm *ipreasm_new(const struct ipreasm_opts *o, const char **why)
{
    struct ipreasm_opts def;
    if (!o) {
        ipreasm_opts_default(&def);
        o = &def;
    }
    const char *bad = NULL;
    if (o->max_datagrams == 0 || o->max_datagrams > MAX_DATAGRAMS_LIMIT)
        bad = "ipreasm: max_datagrams must be between 1 and 2^24";
    else if (o->max_bytes < IPREASM_MIN_BYTES)
        bad = "ipreasm: max_bytes must be at least 128 KiB (one datagram of 65535 bytes)";
    else if (o->timeout_ns <= 0)
        bad = "ipreasm: timeout_ns must be positive";
    if (bad) {
        if (why)
            *why = bad;
        return NULL;
    }
    struct ipreasm *r = calloc(1, sizeof *r);
    size_t n = 64;
    while (n < o->max_datagrams)
        n *= 2;
    if (r)
        r->buckets = calloc(n, sizeof *r->buckets);
    if (!r || !r->buckets) {
        free(r);
        if (why)
            *why = "ipreasm: out of memory";
        return NULL;
    }
    r->o = *o;
    r->n_buckets = n;
    return r;
}

/* ---------- the table ---------- */

static uint32_t key_hash(const struct pkt *p)
{
    uint32_t h = 2166136261u;
    uint8_t head[6] = {p->ip_version, p->ip_version == 4 ? p->frag.proto : 0,
                       (uint8_t)(p->frag.id >> 24), (uint8_t)(p->frag.id >> 16),
                       (uint8_t)(p->frag.id >> 8), (uint8_t)p->frag.id};
    for (size_t i = 0; i < sizeof head; i++)
        h = (h ^ head[i]) * 16777619u;
    for (size_t i = 0; i < 16; i++)
        h = (h ^ p->src.addr[i]) * 16777619u;
    for (size_t i = 0; i < 16; i++)
        h = (h ^ p->dst.addr[i]) * 16777619u;
    return h;
}

static bool key_eq(const struct dgram *d, const struct pkt *p)
{
    return d->version == p->ip_version && d->id == p->frag.id &&
           (d->version == 6 || d->proto == p->frag.proto) && memcmp(d->src, p->src.addr, 16) == 0 &&
           memcmp(d->dst, p->dst.addr, 16) == 0;
}

static void bytes_add(struct ipreasm *r, size_t n)
{
    r->st.bytes += n;
    if (r->st.bytes > r->st.bytes_peak)
        r->st.bytes_peak = r->st.bytes;
}

/* Take d out of the table and free it. */
static void dgram_free(struct ipreasm *r, struct dgram *d)
{
    struct dgram **pp = &r->buckets[d->hash & (r->n_buckets - 1)];
    while (*pp != d)
        pp = &(*pp)->next;
    *pp = d->next;
    if (d->older)
        d->older->newer = d->newer;
    else
        r->oldest = d->newer;
    if (d->newer)
        d->newer->older = d->older;
    else
        r->newest = d->older;
    r->st.bytes -= sizeof *d + d->buf_cap;
    r->st.active--;
    free(d->buf);
    free(d);
}

/* True when d holds only late copies of fragments of a datagram handed
 * out within the timeout before d began: same key, nothing beyond its end. */
static bool late_copies(const struct ipreasm *r, const struct dgram *d)
{
    const struct recent *x = &r->recent[d->hash & (RECENT - 1)];
    if (x->version != d->version || x->id != d->id || (d->version == 4 && x->proto != d->proto) ||
        memcmp(x->src, d->src, 16) != 0 || memcmp(x->dst, d->dst, 16) != 0)
        return false;
    if ((uint64_t)d->created_ns - (uint64_t)x->done_ns > (uint64_t)r->o.timeout_ns)
        return false;
    return d->high <= x->total && (!d->have_last || d->total == x->total);
}

/* Give d up with bytes missing; why is the counter saying how. A
 * discarded datagram was counted when it was discarded; late copies of
 * one handed out count as duplicates. */
static void give_up(struct ipreasm *r, struct dgram *d, uint64_t *why)
{
    if (d->dead) {
        /* counted when discarded */
    } else if (late_copies(r, d)) {
        r->st.duplicates += d->frags;
    } else {
        r->st.incomplete++;
        (*why)++;
    }
    dgram_free(r, d);
}

/* Discard d (overlap, oversize): its buffer goes, the entry stays to
 * absorb later fragments until its timeout. */
static void discard(struct ipreasm *r, struct dgram *d, uint64_t *why)
{
    (*why)++;
    d->dead = true;
    r->st.bytes -= d->buf_cap;
    free(d->buf);
    d->buf = NULL;
    d->buf_cap = 0;
}

/* Evict the oldest datagrams other than keep until n more bytes fit.
 * Returns false when they still do not. */
static bool make_room(struct ipreasm *r, size_t n, const struct dgram *keep)
{
    while (r->st.bytes + n > r->o.max_bytes) {
        struct dgram *victim = r->oldest;
        if (victim == keep)
            victim = victim->newer;
        if (!victim)
            return false;
        give_up(r, victim, &r->st.evicted);
    }
    return true;
}

/* Give up the datagrams older than the timeout. now_ns never goes back
 * and every created_ns was a now_ns, so the difference is not negative;
 * it is taken unsigned so that absurd capture times cannot overflow. */
static void expire(struct ipreasm *r)
{
    while (r->oldest &&
           (uint64_t)r->now_ns - (uint64_t)r->oldest->created_ns > (uint64_t)r->o.timeout_ns)
        give_up(r, r->oldest, &r->st.timed_out);
}

static struct dgram *dgram_find(struct ipreasm *r, const struct pkt *p, uint32_t hash)
{
    for (struct dgram *d = r->buckets[hash & (r->n_buckets - 1)]; d; d = d->next)
        if (key_eq(d, p))
            return d;
    return NULL;
}

static struct dgram *dgram_new(struct ipreasm *r, const struct pkt *p, uint32_t hash)
{
    while (r->st.active >= r->o.max_datagrams && r->oldest)
        give_up(r, r->oldest, &r->st.evicted);
    if (!make_room(r, sizeof(struct dgram), NULL))
        return NULL;
    struct dgram *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->version = p->ip_version;
    d->proto = p->ip_version == 4 ? p->frag.proto : 0;
    d->id = p->frag.id;
    memcpy(d->src, p->src.addr, 16);
    memcpy(d->dst, p->dst.addr, 16);
    d->hash = hash;
    d->cut_at = UINT32_MAX;
    d->created_ns = r->now_ns;
    d->next = r->buckets[hash & (r->n_buckets - 1)];
    r->buckets[hash & (r->n_buckets - 1)] = d;
    d->older = r->newest;
    if (r->newest)
        r->newest->newer = d;
    else
        r->oldest = d;
    r->newest = d;
    r->st.active++;
    bytes_add(r, sizeof *d);
    return d;
}

/* Room for data up to end in d's buffer, within max_bytes. */
static bool dgram_reserve(struct ipreasm *r, struct dgram *d, size_t end)
{
    size_t need = HEADROOM + end;
    if (need <= d->buf_cap)
        return true;
    size_t want = need;
    if (d->have_last) {
        want = HEADROOM + (size_t)d->total;
    } else if (d->buf_cap * 2 > want) {
        /* Fragments in order grow the buffer often: double it. */
        want = d->buf_cap * 2;
        if (want > HEADROOM + IPREASM_MAX_DATAGRAM)
            want = HEADROOM + IPREASM_MAX_DATAGRAM;
    }
    if (r->st.bytes + (want - d->buf_cap) > r->o.max_bytes)
        want = need;
    if (!make_room(r, want - d->buf_cap, d))
        return false;
    uint8_t *bigger = realloc(d->buf, want);
    if (!bigger)
        return false;
    d->buf = bigger;
    bytes_add(r, want - d->buf_cap);
    d->buf_cap = want;
    return true;
}

/* ---------- the block bitmap ---------- */

enum cover { COVER_NONE, COVER_ALL, COVER_SOME };

/* Which of blocks [b0, b1) have been received. */
static enum cover blocks_state(const struct dgram *d, size_t b0, size_t b1)
{
    size_t set = 0;
    for (size_t b = b0; b < b1; b++)
        set += (d->blocks[b / 64] >> (b % 64)) & 1;
    return set == 0 ? COVER_NONE : set == b1 - b0 ? COVER_ALL : COVER_SOME;
}

static void blocks_set(struct dgram *d, size_t b0, size_t b1)
{
    for (size_t b = b0; b < b1; b++)
        d->blocks[b / 64] |= (uint64_t)1 << (b % 64);
}

/* ---------- fragments ---------- */

/* d is whole: rebuild its IP header in front of the data, decode it into
 * out with the completing fragment's frame and time, and free d. */
static void dgram_complete(struct ipreasm *r, struct dgram *d, const struct pkt *p, struct pkt *out)
{
    size_t caplen = d->cut_at < d->total ? d->cut_at : d->total;
    uint8_t *ip;
    size_t hl;
    if (d->version == 4) {
        hl = 20;
        ip = d->buf + HEADROOM - hl;
        memset(ip, 0, hl);
        ip[0] = 0x45;
        wire_put_be16(ip + 2, (uint16_t)(hl + d->total));
        wire_put_be16(ip + 4, (uint16_t)d->id);
        ip[8] = REBUILT_TTL;
        ip[9] = d->proto;
        memcpy(ip + 12, d->src, 4);
        memcpy(ip + 16, d->dst, 4);
    } else {
        hl = 40;
        ip = d->buf + HEADROOM - hl;
        memset(ip, 0, hl);
        ip[0] = 0x60;
        wire_put_be16(ip + 4, (uint16_t)d->total);
        ip[6] = d->proto;
        ip[7] = REBUILT_TTL;
        memcpy(ip + 8, d->src, 16);
        memcpy(ip + 24, d->dst, 16);
    }
    struct recent *x = &r->recent[d->hash & (RECENT - 1)];
    x->version = d->version;
    x->proto = d->proto;
    x->id = d->id;
    memcpy(x->src, d->src, 16);
    memcpy(x->dst, d->dst, 16);
    x->total = d->total;
    x->done_ns = r->now_ns;
    /* The buffer now belongs to the caller's packet until the next call. */
    r->out_buf = d->buf;
    r->st.bytes -= d->buf_cap;
    d->buf = NULL;
    d->buf_cap = 0;
    pkt_decode(DLT_RAW, ip, hl + caplen, hl + d->total, out, NULL);
    out->frame = p->frame;
    out->ts_ns = p->ts_ns;
    r->st.reassembled++;
    dgram_free(r, d);
}

int ipreasm_fragment(struct ipreasm *r, const struct pkt *p, struct pkt *out)
{
    if (!p->fragment || (p->ip_version != 4 && p->ip_version != 6))
        return 0;
    free(r->out_buf);
    r->out_buf = NULL;
    r->st.fragments++;
    if (!r->have_now || p->ts_ns > r->now_ns) {
        r->now_ns = p->ts_ns;
        r->have_now = true;
    }
    expire(r);

    const struct pkt_frag *f = &p->frag;
    size_t len = f->data_wire_len;
    if (f->more && len % 8) {
        if (p->ip_version == 6) { /* RFC 8200 4.5: not a multiple of 8 with M set */
            r->st.malformed++;
            return 0;
        }
        len -= len % 8; /* IPv4: the bytes past the last whole block are ignored */
    }
    if (len == 0) {
        r->st.malformed++;
        return 0;
    }
    size_t cap = f->data_len < len ? f->data_len : len;
    size_t end = (size_t)f->offset + len;

    uint32_t hash = key_hash(p);
    struct dgram *d = dgram_find(r, p, hash);
    if (d && d->dead) {
        r->st.absorbed++;
        return 0;
    }
    if (!d && !(d = dgram_new(r, p, hash))) {
        r->st.nomem++;
        return 0;
    }
    if (f->hdr_len > IPREASM_MAX_DATAGRAM || end > IPREASM_MAX_DATAGRAM - f->hdr_len) {
        discard(r, d, &r->st.oversize);
        return 0;
    }
    /* The end: one last fragment, nothing kept beyond it. */
    if (!f->more) {
        if (end < d->high || (d->have_last && end != d->total)) {
            discard(r, d, &r->st.overlapping);
            return 0;
        }
        d->have_last = true;
        d->total = (uint32_t)end;
    } else if (d->have_last && end > d->total) {
        discard(r, d, &r->st.overlapping);
        return 0;
    }
    size_t b0 = f->offset / 8, b1 = (end + 7) / 8;
    enum cover c = blocks_state(d, b0, b1);
    if (c == COVER_SOME) {
        discard(r, d, &r->st.overlapping);
        return 0;
    }
    if (c == COVER_ALL) {
        r->st.duplicates++;
    } else {
        if (!dgram_reserve(r, d, end)) {
            r->st.nomem++;
            return 0;
        }
        memcpy(d->buf + HEADROOM + f->offset, f->data, cap);
        if (cap < len && f->offset + cap < d->cut_at)
            d->cut_at = (uint32_t)(f->offset + cap);
        blocks_set(d, b0, b1);
        d->received += (uint32_t)len;
        d->frags++;
        if (end > d->high)
            d->high = (uint32_t)end;
        if (f->offset == 0 && p->ip_version == 6)
            d->proto = f->proto;
    }
    /* A duplicate last fragment can bring the end that completes it. */
    if (!d->have_last || d->received != d->total)
        return 0;
    dgram_complete(r, d, p, out);
    return 1;
}

void ipreasm_finish(struct ipreasm *r)
{
    while (r->oldest)
        give_up(r, r->oldest, &r->st.unfinished);
}

void ipreasm_free(struct ipreasm *r)
{
    if (!r)
        return;
    while (r->oldest)
        dgram_free(r, r->oldest);
    free(r->out_buf);
    free(r->buckets);
    free(r);
}

const struct ipreasm_stats *ipreasm_stats(const struct ipreasm *r)
{
    return &r->st;
}
