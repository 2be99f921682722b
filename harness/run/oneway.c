/* Matching packets across the two captures of a lab (see oneway.h). */
#include "oneway.h"

#include <arpa/inet.h>
#include <math.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One packet as its sender's capture shows it. */
struct sent_pkt {
    uint64_t hash;        /* FNV-1a of the whole IP packet */
    int64_t sent_ns;      /* departure */
    int64_t arrival_ns;   /* first arrival, 0 none */
    uint64_t frame;       /* pcap frame number in the sending side's capture */
    uint32_t next;        /* next packet with the same hash bucket, UINT32_MAX none */
    uint32_t group;       /* video frame group, UINT32_MAX none */
    uint32_t copies;      /* arrivals */
    uint32_t ssrc;        /* RTP */
    uint16_t seq;         /* RTP */
    bool rtp;             /* looks like RTP v2 */
};

/* A video frame: the packets of one RTP timestamp, or one fragmented datagram. */
struct group {
    uint64_t key;          /* (ssrc, timestamp) or (ip id, fragment marker) */
    uint32_t packets;      /* in the sender's capture */
    uint32_t delivered;    /* of them, arrived */
    int64_t first_sent_ns; /* first departure */
    int64_t last_arrival_ns; /* latest first-arrival of its packets */
};

struct dirstate {
    struct sent_pkt *pkts; size_t n, cap;
    uint32_t *buckets; size_t n_buckets;     /* hash -> first packet */
    struct group *groups; size_t n_groups, cap_groups;
    uint32_t *gbuckets; size_t n_gbuckets;   /* group key -> group index + 1, open addressing */
};

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* The IPv4 packet inside a frame, or NULL. */
static const uint8_t *ip_of(int linktype, const uint8_t *b, size_t caplen, size_t *iplen)
{
    size_t off;
    uint16_t ethertype;
    if (linktype == DLT_EN10MB) {
        if (caplen < 14)
            return NULL;
        ethertype = (uint16_t)(b[12] << 8 | b[13]);
        off = 14;
        if (ethertype == 0x8100 && caplen >= 18) {
            ethertype = (uint16_t)(b[16] << 8 | b[17]);
            off = 18;
        }
    } else if (linktype == DLT_LINUX_SLL) {
        if (caplen < 16)
            return NULL;
        ethertype = (uint16_t)(b[14] << 8 | b[15]);
        off = 16;
    } else if (linktype == DLT_RAW || linktype == 12 /* LINKTYPE_RAW on some systems */) {
        ethertype = 0x0800;
        off = 0;
    } else {
        return NULL;
    }
    if (ethertype != 0x0800 || caplen < off + 20)
        return NULL;
    const uint8_t *ip = b + off;
    if ((ip[0] >> 4) != 4)
        return NULL;
    size_t total = (size_t)(ip[2] << 8 | ip[3]);
    if (total < 20 || off + total > caplen)
        return NULL; /* cut by the snap length: cannot be matched byte for byte */
    *iplen = total;
    return ip;
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 1024;
    while (ncap < need)
        ncap *= 2;
    void *np = realloc(*p, ncap * size);
    if (!np)
        return -1;
    *p = np;
    *cap = ncap;
    return 0;
}

static uint32_t group_for(struct dirstate *d, uint64_t key, int64_t sent_ns)
{
    if (d->n_groups * 2 >= d->n_gbuckets) {
        size_t nb = d->n_gbuckets ? d->n_gbuckets * 2 : 4096;
        uint32_t *b = calloc(nb, sizeof *b);
        if (!b)
            return UINT32_MAX;
        for (size_t i = 0; i < d->n_groups; i++) {
            size_t h = (size_t)(d->groups[i].key * 0x9e3779b97f4a7c15ull) & (nb - 1);
            while (b[h])
                h = (h + 1) & (nb - 1);
            b[h] = (uint32_t)i + 1;
        }
        free(d->gbuckets);
        d->gbuckets = b;
        d->n_gbuckets = nb;
    }
    size_t h = (size_t)(key * 0x9e3779b97f4a7c15ull) & (d->n_gbuckets - 1);
    while (d->gbuckets[h]) {
        struct group *g = &d->groups[d->gbuckets[h] - 1];
        if (g->key == key)
            return d->gbuckets[h] - 1;
        h = (h + 1) & (d->n_gbuckets - 1);
    }
    if (grow((void **)&d->groups, &d->cap_groups, d->n_groups + 1, sizeof *d->groups) != 0)
        return UINT32_MAX;
    struct group *g = &d->groups[d->n_groups];
    memset(g, 0, sizeof *g);
    g->key = key;
    g->first_sent_ns = sent_ns;
    d->gbuckets[h] = (uint32_t)d->n_groups + 1;
    return (uint32_t)d->n_groups++;
}

static int add_sent(struct dirstate *d, const uint8_t *ip, size_t len, int64_t ts, uint64_t frame)
{
    if (grow((void **)&d->pkts, &d->cap, d->n + 1, sizeof *d->pkts) != 0)
        return -1;
    struct sent_pkt *p = &d->pkts[d->n];
    memset(p, 0, sizeof *p);
    p->hash = fnv1a(ip, len);
    p->sent_ns = ts;
    p->frame = frame;
    p->next = UINT32_MAX;
    p->group = UINT32_MAX;
    size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
    uint16_t frag = (uint16_t)(ip[6] << 8 | ip[7]);
    bool fragment = (frag & 0x2000) || (frag & 0x1fff);
    uint16_t ipid = (uint16_t)(ip[4] << 8 | ip[5]);
    if (fragment) {
        p->group = group_for(d, (1ull << 63) | ((uint64_t)ipid << 8) | ip[9], ts);
    }
    if (ip[9] == 17 && ihl >= 20 && len >= ihl + 8 + 12 && !(frag & 0x1fff)) {
        const uint8_t *rtp = ip + ihl + 8;
        if ((rtp[0] >> 6) == 2 && (rtp[1] & 0x7f) < 72 /* not RTCP 200-204 */) {
            p->rtp = true;
            p->seq = (uint16_t)(rtp[2] << 8 | rtp[3]);
            p->ssrc = (uint32_t)rtp[8] << 24 | (uint32_t)rtp[9] << 16 | (uint32_t)rtp[10] << 8 | rtp[11];
            uint32_t rtp_ts = (uint32_t)rtp[4] << 24 | (uint32_t)rtp[5] << 16 | (uint32_t)rtp[6] << 8 | rtp[7];
            if (!fragment)
                p->group = group_for(d, ((uint64_t)p->ssrc << 32) | rtp_ts, ts);
        }
    }
    if (p->group != UINT32_MAX)
        d->groups[p->group].packets++;
    d->n++;
    return 0;
}

static int index_sent(struct dirstate *d)
{
    size_t nb = 1024;
    while (nb < d->n * 2)
        nb *= 2;
    d->buckets = malloc(nb * sizeof *d->buckets);
    if (!d->buckets)
        return -1;
    memset(d->buckets, 0xff, nb * sizeof *d->buckets);
    d->n_buckets = nb;
    /* Insert backwards so each chain runs in sending order. */
    for (size_t i = d->n; i-- > 0;) {
        size_t b = (size_t)d->pkts[i].hash & (nb - 1);
        d->pkts[i].next = d->buckets[b];
        d->buckets[b] = (uint32_t)i;
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void dist_of(double *v, size_t n, struct oneway_dist *out)
{
    memset(out, 0, sizeof *out);
    out->count = n;
    if (n == 0)
        return;
    qsort(v, n, sizeof *v, cmp_double);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    /* Nearest rank. */
    out->min = v[0];
    out->max = v[n - 1];
    out->p50 = v[(size_t)ceil(0.50 * (double)n) - 1];
    out->p95 = v[(size_t)ceil(0.95 * (double)n) - 1];
    out->p99 = v[(size_t)ceil(0.99 * (double)n) - 1];
    out->mean = sum / (double)n;
}

/* Read one capture, handing every IPv4 packet that was captured whole to fn. */
typedef int (*pkt_fn)(void *ctx, const uint8_t *ip, size_t len, int64_t ts, uint64_t frame);

static int read_capture(const char *path, pkt_fn fn, void *ctx, char *err, size_t cap)
{
    char ebuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, ebuf);
    if (!p) {
        snprintf(err, cap, "%s: %s", path, ebuf);
        return -1;
    }
    int linktype = pcap_datalink(p);
    struct pcap_pkthdr *h;
    const u_char *bytes;
    uint64_t frame = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &bytes)) == 1) {
        frame++;
        size_t len;
        const uint8_t *ip = ip_of(linktype, bytes, h->caplen, &len);
        if (!ip)
            continue;
        int64_t ts = (int64_t)h->ts.tv_sec * 1000000000LL + h->ts.tv_usec; /* tv_usec holds ns */
        if (fn(ctx, ip, len, ts, frame) != 0) {
            snprintf(err, cap, "%s: out of memory at frame %llu", path, (unsigned long long)frame);
            pcap_close(p);
            return -1;
        }
    }
    if (rc == -1) {
        snprintf(err, cap, "%s: frame %llu: %s", path, (unsigned long long)frame + 1, pcap_geterr(p));
        pcap_close(p);
        return -1;
    }
    pcap_close(p);
    return 0;
}

/* One arrival in the receiving side's capture, kept until the sending
 * side's packets are indexed. */
struct arrival {
    uint64_t hash; /* FNV-1a of the whole IP packet */
    int64_t ts;    /* capture time */
};

struct pass_ctx {
    uint32_t from;              /* source address of the direction (network order) */
    uint32_t to;                /* destination address */
    struct dirstate d;          /* the sending side's packets */
    struct arrival *arr; size_t n_arr, cap_arr; /* the receiving side's, in capture order */
    struct oneway_dir *out;     /* counters */
    double *delays; size_t n_delays, cap_delays; /* per delivered packet */
    uint64_t highest_sent_index; bool any;       /* reorder detection */
};

static bool in_direction(const struct pass_ctx *c, const uint8_t *ip)
{
    uint32_t src, dst;
    memcpy(&src, ip + 12, 4);
    memcpy(&dst, ip + 16, 4);
    return src == c->from && dst == c->to;
}

/* One capture is read once: it is the sending side of one direction and
 * the receiving side of the other. */
struct file_ctx {
    struct pass_ctx *sending;   /* packets this side sent */
    struct pass_ctx *receiving; /* packets this side received */
};

static int on_packet(void *ctx, const uint8_t *ip, size_t len, int64_t ts, uint64_t frame)
{
    struct file_ctx *f = ctx;
    if (in_direction(f->sending, ip))
        return add_sent(&f->sending->d, ip, len, ts, frame);
    if (in_direction(f->receiving, ip)) {
        struct pass_ctx *c = f->receiving;
        if (grow((void **)&c->arr, &c->cap_arr, c->n_arr + 1, sizeof *c->arr) != 0)
            return -1;
        c->arr[c->n_arr++] = (struct arrival){fnv1a(ip, len), ts};
    }
    return 0;
}

static int match_arrival(struct pass_ctx *c, uint64_t h, int64_t ts)
{
    c->out->received++;
    struct dirstate *d = &c->d;
    uint32_t i = d->buckets[(size_t)h & (d->n_buckets - 1)];
    uint32_t first_match = UINT32_MAX;
    for (; i != UINT32_MAX; i = d->pkts[i].next) {
        if (d->pkts[i].hash != h)
            continue;
        if (first_match == UINT32_MAX)
            first_match = i;
        if (d->pkts[i].copies == 0)
            break;
    }
    if (i == UINT32_MAX) {
        if (first_match == UINT32_MAX)
            c->out->unmatched++;
        else {
            c->out->duplicates++;
            d->pkts[first_match].copies++;
        }
        return 0;
    }
    struct sent_pkt *p = &d->pkts[i];
    p->copies = 1;
    p->arrival_ns = ts;
    if (c->any && i < c->highest_sent_index)
        c->out->reordered++;
    if (!c->any || i > c->highest_sent_index)
        c->highest_sent_index = i;
    c->any = true;
    if (grow((void **)&c->delays, &c->cap_delays, c->n_delays + 1, sizeof *c->delays) != 0)
        return -1;
    c->delays[c->n_delays++] = (double)(ts - p->sent_ns) / 1e6;
    if (p->group != UINT32_MAX) {
        struct group *g = &d->groups[p->group];
        g->delivered++;
        if (ts > g->last_arrival_ns)
            g->last_arrival_ns = ts;
    }
    return 0;
}

/* Match the direction's arrivals against what was sent and fill its
 * counters and distributions. */
static int finish_dir(struct pass_ctx *c, char *err, size_t cap)
{
    struct dirstate *d = &c->d;
    struct oneway_dir *out = c->out;
    if (index_sent(d) != 0) {
        snprintf(err, cap, "one-way delay: out of memory");
        return -1;
    }
    for (size_t k = 0; k < c->n_arr; k++)
        if (match_arrival(c, c->arr[k].hash, c->arr[k].ts) != 0) {
            snprintf(err, cap, "one-way delay: out of memory");
            return -1;
        }
    out->sent = d->n;
    for (size_t i = 0; i < d->n; i++) {
        const struct sent_pkt *p = &d->pkts[i];
        if (p->copies)
            out->delivered++;
        if (p->rtp) {
            out->rtp_sent++;
            if (!p->copies) {
                out->rtp_lost++;
                if (out->n_lost_rtp < ONEWAY_LOST_KEPT)
                    out->lost_rtp[out->n_lost_rtp++] =
                        (struct oneway_lost){p->ssrc, p->seq, p->frame, p->sent_ns};
            }
        }
    }
    out->lost = out->sent - out->delivered;
    dist_of(c->delays, c->n_delays, &out->delay_ms);
    double *fd = d->n_groups ? malloc(d->n_groups * sizeof *fd) : NULL;
    size_t n_fd = 0;
    if (d->n_groups && !fd) {
        snprintf(err, cap, "one-way delay: out of memory");
        return -1;
    }
    for (size_t i = 0; i < d->n_groups; i++) {
        const struct group *g = &d->groups[i];
        out->frames_sent++;
        if (g->delivered < g->packets)
            out->frames_lost++;
        else
            fd[n_fd++] = (double)(g->last_arrival_ns - g->first_sent_ns) / 1e6;
    }
    dist_of(fd, n_fd, &out->frame_delay_ms);
    free(fd);
    return 0;
}

static void pass_free(struct pass_ctx *c)
{
    free(c->arr);
    free(c->delays);
    free(c->d.pkts);
    free(c->d.buckets);
    free(c->d.groups);
    free(c->d.gbuckets);
}

int oneway_measure(const char *sut_pcap, const char *peer_pcap, const char *sut_addr,
                   const char *peer_addr, struct oneway *out, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    struct in_addr sut, peer;
    if (inet_pton(AF_INET, sut_addr, &sut) != 1 || inet_pton(AF_INET, peer_addr, &peer) != 1) {
        snprintf(err, cap, "one-way delay: bad address %s or %s", sut_addr, peer_addr);
        return -1;
    }
    struct pass_ctx to_peer = {.from = sut.s_addr, .to = peer.s_addr, .out = &out->to_peer};
    struct pass_ctx to_sut = {.from = peer.s_addr, .to = sut.s_addr, .out = &out->to_sut};
    struct file_ctx at_sut = {&to_peer, &to_sut}, at_peer = {&to_sut, &to_peer};
    int rc = -1;
    if (read_capture(sut_pcap, on_packet, &at_sut, err, cap) == 0 &&
        read_capture(peer_pcap, on_packet, &at_peer, err, cap) == 0 &&
        finish_dir(&to_peer, err, cap) == 0 && finish_dir(&to_sut, err, cap) == 0)
        rc = 0;
    pass_free(&to_peer);
    pass_free(&to_sut);
    return rc;
}
