/* The userspace impairment backend (see uimpair.h; docs/impairment.md has
 * the design and the measured delay error). One thread enters the router
 * namespace, opens an AF_PACKET socket on each of the router's veths and
 * moves every Ethernet frame from one to the other itself, applying the
 * direction's impair_spec the way sch_netem does (netem_enqueue and
 * netem_dequeue are the reference for every rule below), except that each
 * random number is drawn from a counter-based generator keyed by (seed,
 * direction, flow ordinal, packet index, purpose) instead of one shared
 * stream, so that a flow's k-th packet meets the same fate in every run.
 *
 * Frames wait in a binary heap per direction ordered by their time to send
 * (then by arrival, so equal times keep their order); the thread sleeps in
 * poll() on both sockets, an eventfd (phases, blackouts, stop) and a timerfd
 * armed at the earliest send time on CLOCK_MONOTONIC, and spins the last
 * few microseconds so frames leave on time. Decisions are logged to memory
 * and written out when the queue is idle, never synchronously per frame. */
#include "uimpair.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <math.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define BATCH 32                 /* frames per recvmmsg */
#define BATCHES_PER_WAKE 8       /* then look at the clock again */
#define FRAME_CAP 65600          /* the largest veth MTU (65535) plus link headers */
#define DEFAULT_LIMIT 1000       /* netem's default queue limit, in packets */
#define SOCK_BUF_BYTES (8 << 20) /* socket buffers: a burst must not be lost before we read it */
#define SPIN_NS 30000            /* wake this early and spin: timer wakeups are late by tens of us */
#define LOG_FLUSH_BYTES (64 << 10)   /* write the log out in chunks of this much ... */
#define LOG_IDLE_NS 500000           /* ... when nothing is due for this long (a chunk takes tens of us), */
#define LOG_FORCE_BYTES (4 << 20)    /* or all of it beyond this much whatever is due */
#define SAMPLE_CAP (1u << 22)        /* delay-error samples kept per direction (reservoir beyond) */
#define DIST_MAX (32767.0 / 8192.0)  /* netem's tables hold s16 values scaled by 8192 */
#define FIFO_PRIORITY 10             /* SCHED_FIFO priority of the thread, when allowed */

/* What a random number is for; part of its key so that every decision
 * about a packet has its own independent number. */
enum purpose {
    P_DUPLICATE = 1,
    P_LOSS,
    P_LOSS_2,       /* Gilbert-Elliott draws twice per packet */
    P_CORRUPT,
    P_CORRUPT_BIT,
    P_REORDER,
    P_DELAY,
    P_DUP_DELAY,    /* the duplicate's own delay */
    P_SLOT,
    P_INIT = 32,    /* + correlated stream: initial "last" value, as netem's init_crandom */
};

/* Correlated streams of a flow (netem's struct crndstate). */
enum corr_stream { C_DELAY, C_LOSS, C_DUPLICATE, C_CORRUPT, C_REORDER, C_COUNT };

/* Loss model states: Gilbert-Elliott uses GOOD/BAD, the 4-state model 1..4. */
enum { GE_GOOD = 0, GE_BAD = 1 };
enum { ST_TX_GAP = 1, ST_TX_BURST = 2, ST_LOST_BURST = 3, ST_LOST_GAP = 4 };

/* What identifies a flow: protocol and addresses, ports for TCP and UDP.
 * Zero-filled before use so it can be hashed and compared as bytes. */
struct flow_key {
    uint16_t ethertype; /* after a VLAN tag */
    uint16_t vlan;      /* VLAN id + 1; 0 untagged */
    uint8_t ip_proto;   /* IP protocol; 0 for non-IP */
    uint8_t addr_len;   /* 4, 16, or 0 without addresses */
    uint16_t sport;     /* TCP/UDP source port; 0 otherwise */
    uint16_t dport;     /* TCP/UDP destination port */
    uint8_t src[16];    /* source address (ARP: sender IPv4) */
    uint8_t dst[16];    /* destination address (ARP: target IPv4) */
};

/* One flow of one direction. */
struct flow {
    struct flow_key key;      /* identity */
    uint32_t ordinal;         /* order of first appearance in this direction, from 0 */
    uint64_t next_index;      /* index the next packet of the flow gets, from 0 */
    uint32_t gen;             /* spec generation the state below belongs to */
    uint32_t last[C_COUNT];   /* last value of each correlated stream */
    uint8_t loss_state;       /* Gilbert-Elliott or 4-state model state */
    uint32_t reorder_counter; /* packets since the last reordered one (netem's counter) */
};

/* Flows of one direction, numbered by first appearance. */
struct flow_table {
    struct flow *flows; /* by ordinal */
    size_t count;       /* flows known */
    size_t cap;         /* flows allocated */
    uint32_t *slots;    /* open addressing: ordinal + 1, 0 empty */
    size_t nslots;      /* a power of two, at least twice count */
};

/* A frame waiting for its time to send. */
struct pframe {
    int64_t tts_ns; /* CLOCK_MONOTONIC time to send */
    uint64_t seq;   /* arrival order, breaks ties */
    uint32_t len;   /* frame length */
    uint8_t data[]; /* the Ethernet frame */
};

/* Min-heap of pending frames by (tts_ns, seq). */
struct heap {
    struct pframe **v; /* v[0] is the next to send */
    size_t n;          /* frames held */
    size_t cap;        /* slots allocated */
};

/* What the parser found in a frame. */
struct frame_info {
    const char *proto;    /* "udp", "tcp", "arp" or "other" (log column) */
    struct flow_key key;  /* the flow */
    int family;           /* AF_INET, AF_INET6, or 0 */
    size_t l3_off;        /* IP header offset (when family != 0) */
    size_t region_off;    /* corruption region: the IP payload ... */
    size_t region_end;    /* ... up to the IP packet's end */
    bool rtp;             /* the UDP payload looks like RTP version 2 */
    uint32_t rtp_ssrc;    /* its SSRC */
    uint16_t rtp_seq;     /* its sequence number */
};

/* One direction of the forwarder. */
struct direction {
    enum uimpair_dir dir;       /* which one */
    const char *name;           /* "to-sut" or "to-peer" (log column) */
    int in_fd;                  /* packet socket frames arrive on */
    int out_fd;                 /* packet socket frames leave by */
    int out_ifindex;            /* the egress veth */
    struct impair_spec spec;    /* in force */
    uint32_t gen;               /* bumped at every uimpair_set: flows restart their models */
    uint32_t limit;             /* queue limit in packets */
    struct flow_table flows;    /* flows seen */
    struct flow overflow;       /* stands for new flows once memory for the table runs out */
    struct heap queue;          /* frames waiting */
    int64_t last_tts_ns;        /* rate: largest time to send in the queue */
    int64_t slot_next_ns;       /* slot: when the next slot opens (0: no slots) */
    int64_t slot_packets_left;  /* packets the open slot may still carry */
    int64_t slot_bytes_left;    /* bytes it may still carry */
    uint64_t slot_count;        /* slots drawn, keys the slot delays */
    struct uimpair_stats stats; /* counters */
    float *err_us;              /* delay-error samples (reservoir) */
    size_t err_n;               /* samples held */
    size_t err_cap;             /* samples allocated */
};

/* One forwarder. */
struct uimpair {
    pthread_t thread;                  /* the forwarder */
    bool thread_started;               /* thread must be joined */
    int router_fd;                     /* our copy of the router namespace descriptor */
    char if_name[2][IF_NAMESIZE];      /* [0] peer side, [1] SUT side */
    int sock[2];                       /* packet sockets: [0] on the peer side, [1] on the SUT side */
    int wake_fd;                       /* eventfd: phases, blackouts, stop */
    int timer_fd;                      /* timerfd on CLOCK_MONOTONIC */
    int64_t t0_ns;                     /* CLOCK_REALTIME origin of log times */
    struct direction d[2];             /* per uimpair_dir */
    uint8_t *rx;                       /* BATCH receive buffers of FRAME_CAP */
    uint64_t seq;                      /* arrival counter */
    char sched_note[128];              /* how the thread is scheduled (log header) */

    int log_fd;                        /* decision log, or -1 */
    char *log_buf;                     /* lines not yet written */
    size_t log_len;                    /* bytes in log_buf */
    size_t log_cap;                    /* its size */
    bool log_failed;                   /* a write failed: reported at stop */
    char log_path[512];                /* for messages */

    pthread_mutex_t mu;                /* guards next_spec and next_pending */
    struct impair_spec next_spec[2];   /* specs uimpair_set handed over */
    bool next_pending[2];              /* next_spec[i] waits to be applied */
    atomic_int pending;                /* some next_pending is set */
    _Atomic int64_t blackout_until_ns; /* CLOCK_MONOTONIC end of the blackout */
    atomic_uint blackout_seq;          /* bumped by each uimpair_blackout */
    unsigned blackout_seen;            /* last blackout_seq logged */
    atomic_int stop;                   /* uimpair_stop was called */

    pthread_mutex_t start_mu;          /* guards start_state and start_err */
    pthread_cond_t start_cv;           /* signalled when start_state leaves 0 */
    int start_state;                   /* 0 starting, 1 running, -1 failed */
    char start_err[256];               /* why it failed */
};


static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t mono_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

/* ---- randomness ---------------------------------------------------------- */

/* splitmix64's finaliser: a bijection that scrambles every input bit. */
static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The random number for one decision about one packet: a pure function of
 * its key, so it does not depend on what other flows did before. */
static uint32_t draw(uint64_t seed, enum uimpair_dir dir, uint32_t flow, uint64_t index, unsigned purpose)
{
    uint64_t h = mix64(seed);
    h = mix64(h ^ ((uint64_t)dir << 32 | purpose));
    h = mix64(h ^ flow);
    h = mix64(h ^ index);
    return (uint32_t)(h >> 32);
}

/* netem's probability scale: 0..UINT32_MAX for 0..100%. */
static uint32_t ppm_u32(uint32_t ppm)
{
    if (ppm >= IMPAIR_PPM)
        return UINT32_MAX;
    return (uint32_t)(((uint64_t)ppm * UINT32_MAX + IMPAIR_PPM / 2) / IMPAIR_PPM);
}

/* netem's get_crandom: next = (1 - rho) * random + rho * last, per flow. */
static uint32_t crandom(struct direction *d, struct flow *f, uint64_t index, unsigned purpose,
                        enum corr_stream c, uint32_t corr_ppm)
{
    uint32_t value = draw(d->spec.seed, d->dir, f->ordinal, index, purpose);
    if (corr_ppm == 0)
        return value;
    uint64_t rho = (uint64_t)ppm_u32(corr_ppm) + 1;
    uint32_t answer = (uint32_t)(((uint64_t)value * ((1ull << 32) - rho) + (uint64_t)f->last[c] * rho) >> 32);
    f->last[c] = answer;
    return answer;
}

/* A probability event as netem tests it: p && p >= rnd. */
static bool happens(uint32_t ppm, uint32_t rnd) { return ppm != 0 && rnd <= ppm_u32(ppm); }

/* Inverse of the standard normal CDF (P. J. Acklam's rational
 * approximation, relative error below 1.2e-9), used instead of netem's
 * normal.dist table, which tabulates the same function at 4096 points. */
static double inv_normal(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                               1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                               6.680131188771972e+01, -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                               -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
    static const double e[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    const double plow = 0.02425;
    if (p < plow) {
        double q = sqrt(-2 * log(p));
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((e[0] * q + e[1]) * q + e[2]) * q + e[3]) * q + 1);
    }
    if (p > 1 - plow) {
        double q = sqrt(-2 * log1p(-p));
        return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((e[0] * q + e[1]) * q + e[2]) * q + e[3]) * q + 1);
    }
    double q = p - 0.5, r = q * q;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
           (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

static double clamp_dist(double x) { return x > DIST_MAX ? DIST_MAX : x < -DIST_MAX ? -DIST_MAX : x; }

/* iproute2's pareto.dist: a Pareto variable with alpha 3, shifted and
 * scaled to mean 0 and unit spread: ((1-u)^(-1/3) - 1.5) * 4/3. */
static double pareto(double u)
{
    return clamp_dist((pow(1 - u, -1.0 / 3.0) - 1.5) * (4.0 / 3.0));
}

/* netem's tabledist: delay around mu with spread sigma; uniform without a
 * table (netem's default, whatever tc-netem(8) says about normal), else the
 * inverse CDF of the named distribution, bounded as netem's s16 tables are.
 * paretonormal is iproute2's (normal + 3 pareto) / 4 at the same quantile. */
static int64_t delay_ns(const struct impair_spec *s, uint32_t rnd)
{
    int64_t mu = (int64_t)s->delay_us * 1000, sigma = (int64_t)s->jitter_us * 1000;
    if (sigma == 0)
        return mu;
    double u = ((double)rnd + 0.5) / 4294967296.0, x;
    switch (s->dist) {
    case IMPAIR_DIST_NORMAL:
        x = clamp_dist(inv_normal(u));
        break;
    case IMPAIR_DIST_PARETO:
        x = pareto(u);
        break;
    case IMPAIR_DIST_PARETONORMAL:
        x = clamp_dist((clamp_dist(inv_normal(u)) + 3 * pareto(u)) / 4);
        break;
    case IMPAIR_DIST_UNIFORM:
    default:
        return mu - sigma + (int64_t)(((unsigned __int128)rnd * (uint64_t)(2 * sigma)) >> 32);
    }
    return mu + (int64_t)llround(x * (double)sigma);
}

/* netem's packet_time_ns: serialisation time of len bytes at the rate,
 * with per-packet overhead and link-layer cells. */
static int64_t packet_time_ns(const struct impair_spec *s, uint32_t len)
{
    int64_t bytes = (int64_t)len + s->rate_packet_overhead;
    if (bytes < 0)
        bytes = 0;
    if (s->rate_cell_size) {
        int64_t cells = (bytes + s->rate_cell_size - 1) / s->rate_cell_size;
        bytes = cells * ((int64_t)s->rate_cell_size + s->rate_cell_overhead);
        if (bytes < 0)
            bytes = 0;
    }
    return (int64_t)((unsigned __int128)bytes * 8 * 1000000000u / s->rate_bps);
}

/* ---- spec checks --------------------------------------------------------- */

int uimpair_check_spec(const struct impair_spec *s, char *err, size_t cap)
{
    /* Every keyword is carried out here, slot included: the spec only has
     * to be consistent. */
    char why[200];
    if (impair_check(s, why, sizeof why) != 0)
        return wire_errf(err, cap, "impairment: %s", why);
    return 0;
}

/* ---- the decision log ---------------------------------------------------- */

/* Write the first max bytes of the buffered log (all of it for SIZE_MAX). */
static void log_write(struct uimpair *u, size_t max)
{
    size_t done = 0, want = u->log_len < max ? u->log_len : max;
    while (u->log_fd >= 0 && done < want) {
        ssize_t n = write(u->log_fd, u->log_buf + done, want - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (!u->log_failed)
                fprintf(stderr, "rtsp-harness: impairment log %s: write failed: %s\n", u->log_path,
                        n < 0 ? strerror(errno) : "no progress");
            u->log_failed = true;
            break;
        }
        done += (size_t)n;
    }
    if (u->log_failed || done >= u->log_len) {
        u->log_len = 0;
        return;
    }
    memmove(u->log_buf, u->log_buf + done, u->log_len - done);
    u->log_len -= done;
}

static void log_write_out(struct uimpair *u) { log_write(u, SIZE_MAX); }

static void log_printf(struct uimpair *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_printf(struct uimpair *u, const char *fmt, ...)
{
    if (u->log_fd < 0)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = u->log_cap - u->log_len;
        int n = vsnprintf(u->log_buf + u->log_len, room, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < room) {
            u->log_len += (size_t)n;
            return;
        }
        size_t want = u->log_cap * 2;
        while (want - u->log_len <= (size_t)n)
            want *= 2;
        char *grown = realloc(u->log_buf, want);
        if (!grown) {
            /* Out of memory: write what we have, then the line fits. */
            log_write_out(u);
            if ((size_t)n >= u->log_cap)
                return;
            continue;
        }
        u->log_buf = grown;
        u->log_cap = want;
    }
}

static int64_t log_time_us(const struct uimpair *u, int64_t realtime_ns)
{
    return (realtime_ns - u->t0_ns) / 1000;
}

/* "# <what> <dir> <spec>": the spec a direction starts with or changes to. */
static void log_spec(struct uimpair *u, const char *what, const struct direction *d)
{
    char text[512];
    if (impair_format(&d->spec, text, sizeof text) < 0)
        snprintf(text, sizeof text, "(too long to show)");
    log_printf(u, "# %s %s %s\n", what, d->name, text[0] ? text : "none");
}

/* ---- flows --------------------------------------------------------------- */

static uint64_t key_hash(const struct flow_key *k)
{
    const uint8_t *p = (const uint8_t *)k;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < sizeof *k; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return mix64(h);
}

static bool table_grow(struct flow_table *t)
{
    size_t ncap = t->cap ? t->cap * 2 : 16;
    struct flow *nf = realloc(t->flows, ncap * sizeof *nf);
    if (!nf)
        return false;
    t->flows = nf;
    t->cap = ncap;
    size_t nslots = ncap * 2;
    uint32_t *ns = calloc(nslots, sizeof *ns);
    if (!ns)
        return false;
    for (size_t i = 0; i < t->count; i++) {
        size_t j = key_hash(&t->flows[i].key) & (nslots - 1);
        while (ns[j])
            j = (j + 1) & (nslots - 1);
        ns[j] = (uint32_t)i + 1;
    }
    free(t->slots);
    t->slots = ns;
    t->nslots = nslots;
    return true;
}

/* The flow of key, created (with the next ordinal) on first sight; NULL
 * only when memory runs out. */
static struct flow *flow_get(struct flow_table *t, const struct flow_key *key)
{
    if (t->nslots) {
        size_t j = key_hash(key) & (t->nslots - 1);
        while (t->slots[j]) {
            struct flow *f = &t->flows[t->slots[j] - 1];
            if (memcmp(&f->key, key, sizeof *key) == 0)
                return f;
            j = (j + 1) & (t->nslots - 1);
        }
    }
    if (t->count >= UINT32_MAX - 1 || (t->count == t->cap && !table_grow(t)))
        return NULL;
    struct flow *f = &t->flows[t->count];
    memset(f, 0, sizeof *f);
    f->key = *key;
    f->ordinal = (uint32_t)t->count;
    f->gen = UINT32_MAX; /* no model state yet */
    t->count++;
    size_t j = key_hash(key) & (t->nslots - 1);
    while (t->slots[j])
        j = (j + 1) & (t->nslots - 1);
    t->slots[j] = f->ordinal + 1;
    return f;
}

/* A phase (or the first packet) starts the flow's models afresh, as netem
 * does when its qdisc is changed. */
static void flow_reset(struct direction *d, struct flow *f, uint64_t index)
{
    for (int c = 0; c < C_COUNT; c++)
        f->last[c] = draw(d->spec.seed, d->dir, f->ordinal, index, P_INIT + (unsigned)c);
    f->loss_state = d->spec.loss_model == IMPAIR_LOSS_STATE ? ST_TX_GAP : GE_GOOD;
    f->reorder_counter = 0;
    f->gen = d->gen;
}

/* ---- frames -------------------------------------------------------------- */

static void parse_frame(const uint8_t *p, size_t len, struct frame_info *fi)
{
    memset(fi, 0, sizeof *fi);
    fi->proto = "other";
    if (len < 14) {
        fi->region_off = 0;
        fi->region_end = len;
        return;
    }
    size_t off = 12;
    uint16_t type = wire_get_be16(p + off);
    if ((type == 0x8100 || type == 0x88a8) && len >= off + 6) {
        fi->key.vlan = (uint16_t)((wire_get_be16(p + off + 2) & 0x0fff) + 1);
        off += 4;
        type = wire_get_be16(p + off);
    }
    off += 2;
    fi->key.ethertype = type;
    fi->region_off = off;
    fi->region_end = len;

    if (type == 0x0806) {
        fi->proto = "arp";
        /* Ethernet/IPv4 ARP: sender and target protocol addresses */
        if (len >= off + 28 && wire_get_be16(p + off) == 1 && wire_get_be16(p + off + 2) == 0x0800 &&
            p[off + 4] == 6 && p[off + 5] == 4) {
            fi->key.addr_len = 4;
            memcpy(fi->key.src, p + off + 14, 4);
            memcpy(fi->key.dst, p + off + 24, 4);
        }
        return;
    }
    size_t l4 = 0, end = len;
    uint8_t proto = 0;
    bool first_fragment = true;
    if (type == 0x0800 && len >= off + 20 && (p[off] >> 4) == 4) {
        size_t ihl = (size_t)(p[off] & 0x0f) * 4;
        size_t total = wire_get_be16(p + off + 2);
        if (ihl < 20 || off + ihl > len)
            return;
        if (total >= ihl && off + total < end)
            end = off + total;
        proto = p[off + 9];
        first_fragment = (wire_get_be16(p + off + 6) & 0x1fff) == 0;
        fi->family = AF_INET;
        fi->key.addr_len = 4;
        memcpy(fi->key.src, p + off + 12, 4);
        memcpy(fi->key.dst, p + off + 16, 4);
        l4 = off + ihl;
    } else if (type == 0x86dd && len >= off + 40 && (p[off] >> 4) == 6) {
        size_t payload = wire_get_be16(p + off + 4);
        if (off + 40 + payload < end)
            end = off + 40 + payload;
        proto = p[off + 6];
        fi->family = AF_INET6;
        fi->key.addr_len = 16;
        memcpy(fi->key.src, p + off + 8, 16);
        memcpy(fi->key.dst, p + off + 24, 16);
        l4 = off + 40;
    } else {
        return;
    }
    fi->l3_off = off;
    fi->key.ip_proto = proto;
    fi->region_off = l4;
    fi->region_end = end;
    if ((proto != 6 && proto != 17) || !first_fragment || l4 + 8 > end)
        return;
    fi->proto = proto == 6 ? "tcp" : "udp";
    fi->key.sport = wire_get_be16(p + l4);
    fi->key.dport = wire_get_be16(p + l4 + 2);
    if (proto == 17) {
        const uint8_t *rtp = p + l4 + 8;
        size_t n = end - (l4 + 8);
        /* RTP version 2 and not RTCP (packet types 200..204 sit where RTP
         * has marker and payload type) */
        if (n >= 12 && (rtp[0] >> 6) == 2 && !(rtp[1] >= 200 && rtp[1] <= 204)) {
            fi->rtp = true;
            fi->rtp_seq = wire_get_be16(rtp + 2);
            fi->rtp_ssrc = wire_get_be32(rtp + 8);
        }
    }
}

static void format_endpoint(const struct frame_info *fi, bool src, char *out, size_t cap)
{
    const uint8_t *a = src ? fi->key.src : fi->key.dst;
    uint16_t port = src ? fi->key.sport : fi->key.dport;
    bool ports = fi->proto[0] == 'u' || fi->proto[0] == 't';
    char ip[INET6_ADDRSTRLEN];
    if (fi->key.addr_len == 0) {
        snprintf(out, cap, "-");
        return;
    }
    inet_ntop(fi->key.addr_len == 4 ? AF_INET : AF_INET6, a, ip, sizeof ip);
    if (!ports)
        snprintf(out, cap, "%s", ip);
    else if (fi->key.addr_len == 4)
        snprintf(out, cap, "%s:%u", ip, port);
    else
        snprintf(out, cap, "[%s]:%u", ip, port);
}

/* ECN instead of a drop: set CE on an ECN-capable IP packet. False when the
 * packet is not ECN-capable (netem then drops it). */
static bool ecn_mark(uint8_t *p, size_t len, const struct frame_info *fi)
{
    size_t o = fi->l3_off;
    if (fi->family == AF_INET && o + 20 <= len) {
        if ((p[o + 1] & 3) == 0)
            return false;
        p[o + 1] |= 3;
        size_t ihl = (size_t)(p[o] & 0x0f) * 4;
        p[o + 10] = p[o + 11] = 0;
        uint32_t sum = 0;
        for (size_t i = 0; i + 1 < ihl; i += 2)
            sum += wire_get_be16(p + o + i);
        while (sum >> 16)
            sum = (sum & 0xffff) + (sum >> 16);
        wire_put_be16(p + o + 10, (uint16_t)~sum);
        return true;
    }
    if (fi->family == AF_INET6 && o + 40 <= len) {
        if (((p[o + 1] >> 4) & 3) == 0)
            return false;
        p[o + 1] |= 0x30;
        return true;
    }
    return false;
}

/* ---- the queue ----------------------------------------------------------- */

static bool before(const struct pframe *a, const struct pframe *b)
{
    return a->tts_ns < b->tts_ns || (a->tts_ns == b->tts_ns && a->seq < b->seq);
}

static bool heap_push(struct heap *h, struct pframe *f)
{
    if (h->n == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 64;
        struct pframe **nv = realloc(h->v, ncap * sizeof *nv);
        if (!nv)
            return false;
        h->v = nv;
        h->cap = ncap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(f, h->v[parent]))
            break;
        h->v[i] = h->v[parent];
        i = parent;
    }
    h->v[i] = f;
    return true;
}

static struct pframe *heap_pop(struct heap *h)
{
    struct pframe *top = h->v[0], *last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && before(h->v[c + 1], h->v[c]))
            c++;
        if (!before(h->v[c], last))
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n > 0)
        h->v[i] = last;
    return top;
}

static bool enqueue(struct uimpair *u, struct direction *d, const uint8_t *data, uint32_t len, int64_t tts)
{
    struct pframe *f = malloc(sizeof *f + len);
    if (!f)
        return false;
    f->tts_ns = tts;
    f->seq = u->seq++;
    f->len = len;
    memcpy(f->data, data, len);
    if (!heap_push(&d->queue, f)) {
        free(f);
        return false;
    }
    if (d->queue.n == 1 || tts > d->last_tts_ns)
        d->last_tts_ns = tts;
    return true;
}

/* Time to send of a delayed (not reordered) frame arriving at now, as
 * netem_enqueue: now + delay, or behind the last queued frame at the rate,
 * plus its own serialisation time. */
static int64_t schedule(struct direction *d, int64_t now, int64_t delay, uint32_t len)
{
    int64_t t = now + (delay > 0 ? delay : 0);
    if (d->spec.rate_bps) {
        if (d->queue.n > 0 && d->last_tts_ns > t)
            t = d->last_tts_ns;
        t += packet_time_ns(&d->spec, len);
    }
    return t;
}

static void record_error(struct direction *d, double err_us)
{
    struct uimpair_stats *st = &d->stats;
    uint64_t seen = st->delay_err_count++;
    if (err_us > st->delay_err_max_us || seen == 0)
        st->delay_err_max_us = err_us;
    if (d->err_n < d->err_cap) {
        d->err_us[d->err_n++] = (float)err_us;
    } else if (d->err_n == d->err_cap && d->err_cap < SAMPLE_CAP) {
        size_t ncap = d->err_cap ? d->err_cap * 2 : 4096;
        float *nv = realloc(d->err_us, ncap * sizeof *nv);
        if (nv) {
            d->err_us = nv;
            d->err_cap = ncap;
            d->err_us[d->err_n++] = (float)err_us;
        }
    } else if (d->err_n > 0) {
        /* reservoir sampling keeps the percentiles honest past the cap */
        uint64_t j = mix64(seen) % (seen + 1);
        if (j < d->err_n)
            d->err_us[j] = (float)err_us;
    }
}

static void send_frame(struct direction *d, struct pframe *f)
{
    struct sockaddr_ll to;
    memset(&to, 0, sizeof to);
    to.sll_family = AF_PACKET;
    to.sll_ifindex = d->out_ifindex;
    to.sll_protocol = f->len >= 14 ? htons(wire_get_be16(f->data + 12)) : htons(ETH_P_ALL);
    int64_t t = mono_ns();
    ssize_t n = sendto(d->out_fd, f->data, f->len, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof to);
    if (n == (ssize_t)f->len)
        d->stats.frames_out++;
    else
        d->stats.send_errors++;
    record_error(d, (double)(t - f->tts_ns) / 1000.0);
}

/* netem's slot: the next slot opens a uniform delay in [min, max] from now
 * and carries at most slot_packets packets and slot_bytes bytes. */
static void slot_next(struct direction *d, int64_t now)
{
    const struct impair_spec *s = &d->spec;
    uint32_t rnd = draw(s->seed, d->dir, UINT32_MAX, d->slot_count++, P_SLOT);
    uint32_t max_us = s->slot_max_us ? s->slot_max_us : s->slot_min_us; /* 0: as netem, max = min */
    int64_t span = (int64_t)(max_us - s->slot_min_us) * 1000;
    d->slot_next_ns = now + (int64_t)s->slot_min_us * 1000 + (int64_t)(((unsigned __int128)rnd * (uint64_t)span) >> 32);
    d->slot_packets_left = s->slot_packets ? s->slot_packets : INT32_MAX;
    d->slot_bytes_left = s->slot_bytes ? s->slot_bytes : INT32_MAX;
}

/* netem_dequeue: send what is due; returns when to look again. A frame
 * waits for its time to send and, with slots, for an open slot; a slot that
 * opened before the head frame was due is replaced by a new one from now. */
static int64_t release(struct direction *d, int64_t now)
{
    while (d->queue.n > 0) {
        struct pframe *head = d->queue.v[0];
        bool slots = d->slot_next_ns != 0;
        if (slots && d->slot_next_ns < head->tts_ns)
            slot_next(d, now);
        if (head->tts_ns > now || (slots && d->slot_next_ns > now))
            return slots && d->slot_next_ns > head->tts_ns ? d->slot_next_ns : head->tts_ns;
        heap_pop(&d->queue);
        send_frame(d, head);
        if (slots) {
            d->slot_packets_left--;
            d->slot_bytes_left -= head->len;
            if (d->slot_packets_left <= 0 || d->slot_bytes_left <= 0)
                slot_next(d, now);
        }
        free(head);
    }
    return INT64_MAX;
}

/* ---- decisions ----------------------------------------------------------- */

/* netem's loss_event for this flow: random (with correlation), the 4-state
 * Markov chain (loss decided by the state entered) or Gilbert-Elliott (loss
 * decided in the state left, as loss_gilb_ell does). */
static bool loss_event(struct direction *d, struct flow *f, uint64_t index)
{
    const struct impair_spec *s = &d->spec;
    switch (s->loss_model) {
    case IMPAIR_LOSS_NONE:
        return false;
    case IMPAIR_LOSS_RANDOM:
        return s->loss_ppm && happens(s->loss_ppm, crandom(d, f, index, P_LOSS, C_LOSS, s->loss_corr_ppm));
    case IMPAIR_LOSS_GEMODEL: {
        uint32_t r1 = draw(s->seed, d->dir, f->ordinal, index, P_LOSS);
        uint32_t r2 = draw(s->seed, d->dir, f->ordinal, index, P_LOSS_2);
        if (f->loss_state == GE_GOOD) {
            if (r1 < ppm_u32(s->loss_ppm))
                f->loss_state = GE_BAD;
            return r2 < ppm_u32(s->ge_1k_ppm);
        }
        if (r1 < ppm_u32(s->ge_r_ppm))
            f->loss_state = GE_GOOD;
        return r2 > UINT32_MAX - ppm_u32(s->ge_1h_ppm); /* the kernel keeps h, lost when rnd > h */
    }
    case IMPAIR_LOSS_STATE: {
        uint64_t rnd = draw(s->seed, d->dir, f->ordinal, index, P_LOSS);
        uint64_t a1 = ppm_u32(s->st_p13_ppm), a2 = ppm_u32(s->st_p31_ppm), a3 = ppm_u32(s->st_p32_ppm);
        uint64_t a4 = ppm_u32(s->st_p14_ppm), a5 = ppm_u32(s->st_p23_ppm);
        switch (f->loss_state) {
        case ST_TX_GAP:
            if (rnd < a4) {
                f->loss_state = ST_LOST_GAP;
                return true;
            }
            if (a4 < rnd && rnd < a1 + a4) {
                f->loss_state = ST_LOST_BURST;
                return true;
            }
            return false;
        case ST_TX_BURST:
            if (rnd < a5) {
                f->loss_state = ST_LOST_BURST;
                return true;
            }
            return false;
        case ST_LOST_BURST:
            if (rnd < a3)
                f->loss_state = ST_TX_BURST;
            else if (a3 < rnd && rnd < a2 + a3)
                f->loss_state = ST_TX_GAP;
            else if (a2 + a3 < rnd)
                return true;
            return false;
        case ST_LOST_GAP:
        default:
            f->loss_state = ST_TX_GAP;
            return false;
        }
    }
    }
    return false;
}

/* Decide the fate of one frame that arrived at arrival (monotonic) and
 * queue it; writes its log line. */
static void process_frame(struct uimpair *u, struct direction *d, uint8_t *data, uint32_t len, int64_t arrival,
                          int64_t arrival_rt)
{
    struct frame_info fi;
    parse_frame(data, len, &fi);
    d->stats.frames_in++;
    struct flow *f = flow_get(&d->flows, &fi.key);
    if (!f) {
        f = &d->overflow;
        f->ordinal = UINT32_MAX;
    }
    uint64_t index = f->next_index++;
    const struct impair_spec *s = &d->spec;
    const char *action = NULL;
    char actions[64] = "";
    int64_t tts = 0;
    bool queued = false;

    if (arrival < atomic_load(&u->blackout_until_ns)) {
        action = "blackout";
        d->stats.blackout_drops++;
    } else {
        if (f->gen != d->gen)
            flow_reset(d, f, index);
        bool dup = s->duplicate_ppm &&
                   happens(s->duplicate_ppm, crandom(d, f, index, P_DUPLICATE, C_DUPLICATE, s->duplicate_corr_ppm));
        bool marked = false;
        if (loss_event(d, f, index)) {
            if (s->ecn && ecn_mark(data, len, &fi)) {
                marked = true;
                d->stats.ecn_marked++;
            } else {
                action = "drop";
                d->stats.dropped++;
            }
        }
        bool corrupt = false;
        if (!action && s->corrupt_ppm &&
            happens(s->corrupt_ppm, crandom(d, f, index, P_CORRUPT, C_CORRUPT, s->corrupt_corr_ppm))) {
            size_t lo = fi.region_off, hi = fi.region_end;
            if (hi <= lo) {
                lo = len > 14 ? 14 : 0;
                hi = len;
            }
            if (hi > lo) {
                uint64_t bit = draw(s->seed, d->dir, f->ordinal, index, P_CORRUPT_BIT) % ((hi - lo) * 8);
                data[lo + bit / 8] ^= (uint8_t)(1u << (bit % 8));
                corrupt = true;
                d->stats.corrupted++;
            }
        }
        uint32_t limit = s->limit_packets ? s->limit_packets : DEFAULT_LIMIT;
        if (!action && d->queue.n >= limit) {
            action = "queue-full";
            d->stats.queue_drops++;
        }
        if (!action) {
            /* netem: reorder one packet in gap (tc makes gap 1 when only a
             * percentage is given): it goes out at once, ahead of the
             * delayed ones; the others are delayed. */
            uint32_t gap = s->reorder_gap ? s->reorder_gap : (s->reorder_ppm ? 1 : 0);
            bool reorder = gap != 0 && f->reorder_counter >= gap - 1 &&
                           happens(s->reorder_ppm, crandom(d, f, index, P_REORDER, C_REORDER, s->reorder_corr_ppm));
            if (reorder) {
                tts = arrival;
                f->reorder_counter = 0;
                d->stats.reordered++;
            } else {
                uint32_t rnd = crandom(d, f, index, P_DELAY, C_DELAY, s->delay_corr_ppm);
                tts = schedule(d, arrival, delay_ns(s, rnd), len);
                f->reorder_counter++;
            }
            if (enqueue(u, d, data, len, tts)) {
                queued = true;
                /* The copy is the frame as sent (corruption included), with
                 * its own delay, and waits like any frame. */
                if (dup && d->queue.n < limit) {
                    uint32_t rnd = draw(s->seed, d->dir, f->ordinal, index, P_DUP_DELAY);
                    int64_t t2 = schedule(d, arrival, delay_ns(s, rnd), len);
                    if (enqueue(u, d, data, len, t2))
                        d->stats.duplicated++;
                    else
                        dup = false, d->stats.queue_drops++;
                } else if (dup) {
                    dup = false;
                    d->stats.queue_drops++;
                }
            } else {
                action = "queue-full"; /* out of memory: the queue is full */
                d->stats.queue_drops++;
            }
            if (queued) {
                const char *parts[4] = {marked ? "ecn-mark" : NULL, corrupt ? "corrupt" : NULL,
                                        reorder ? "reorder" : NULL, dup ? "duplicate" : NULL};
                size_t k = 0;
                for (int i = 0; i < 4; i++) {
                    if (!parts[i])
                        continue;
                    int n = snprintf(actions + k, sizeof actions - k, "%s%s", k ? "+" : "", parts[i]);
                    if (n > 0 && (size_t)n < sizeof actions - k)
                        k += (size_t)n;
                }
                action = k ? actions : "pass";
            }
        }
    }

    if (u->log_fd >= 0) {
        char src[64], dst[64], ssrc[16] = "-", seq[8] = "-", delay[24] = "-";
        format_endpoint(&fi, true, src, sizeof src);
        format_endpoint(&fi, false, dst, sizeof dst);
        if (fi.rtp) {
            snprintf(ssrc, sizeof ssrc, "0x%08x", fi.rtp_ssrc);
            snprintf(seq, sizeof seq, "%u", fi.rtp_seq);
        }
        if (queued)
            snprintf(delay, sizeof delay, "%lld", (long long)((tts - arrival) / 1000));
        log_printf(u, "%lld\t%s\t%u\t%llu\t%s\t%s\t%s\t%u\t%s\t%s\t%s\t%s\n",
                   (long long)log_time_us(u, arrival_rt), d->name, f->ordinal, (unsigned long long)index,
                   fi.proto, src, dst, len, ssrc, seq, action, delay);
        d->stats.log_lines++;
    }
}

/* ---- the thread ---------------------------------------------------------- */

/* A spec takes effect for a direction: models restart (lazily, per flow),
 * slots restart from now, the log says so. */
static void install_spec(struct uimpair *u, struct direction *d, const struct impair_spec *s, const char *what)
{
    d->spec = *s;
    d->gen++;
    d->slot_count = 0;
    if (s->slot_min_us || s->slot_max_us) {
        slot_next(d, mono_ns());
        d->slot_next_ns = mono_ns(); /* netem opens the first slot at once */
    } else {
        d->slot_next_ns = 0;
    }
    if (what)
        log_spec(u, what, d);
}

static void apply_pending(struct uimpair *u)
{
    if (!atomic_load(&u->pending))
        return;
    pthread_mutex_lock(&u->mu);
    atomic_store(&u->pending, 0);
    for (int i = 0; i < 2; i++) {
        if (!u->next_pending[i])
            continue;
        u->next_pending[i] = false;
        char what[48];
        snprintf(what, sizeof what, "%lld set", (long long)log_time_us(u, clock_ns(CLOCK_REALTIME)));
        install_spec(u, &u->d[i], &u->next_spec[i], what);
    }
    pthread_mutex_unlock(&u->mu);
    unsigned b = atomic_load(&u->blackout_seq);
    if (b != u->blackout_seen) {
        u->blackout_seen = b;
        int64_t until = atomic_load(&u->blackout_until_ns), now = mono_ns();
        log_printf(u, "# %lld blackout %lld\n", (long long)log_time_us(u, clock_ns(CLOCK_REALTIME)),
                   (long long)((until - now) / 1000));
    }
}

static int open_packet_socket(struct uimpair *u, int which, char *err, size_t cap)
{
    const char *ifname = u->if_name[which];
    int ifindex = (int)if_nametoindex(ifname);
    if (ifindex == 0)
        return wire_errf(err, cap, "userspace impairment: no interface %s in the router namespace: %s", ifname,
                    strerror(errno));
    /* protocol 0 at first: nothing is queued until bind picks the interface */
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return wire_errf(err, cap, "userspace impairment: AF_PACKET socket for %s: %s (needs CAP_NET_RAW)", ifname,
                    strerror(errno));
    u->sock[which] = fd;
    int one = 1, size = SOCK_BUF_BYTES;
    if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) != 0)
        return wire_errf(err, cap, "userspace impairment: PACKET_IGNORE_OUTGOING on %s: %s", ifname, strerror(errno));
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) != 0)
        return wire_errf(err, cap, "userspace impairment: SO_TIMESTAMPNS on %s: %s", ifname, strerror(errno));
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = ifindex;
    if (bind(fd, (struct sockaddr *)&sll, sizeof sll) != 0)
        return wire_errf(err, cap, "userspace impairment: bind packet socket to %s: %s", ifname, strerror(errno));
    struct packet_mreq mr;
    memset(&mr, 0, sizeof mr);
    mr.mr_ifindex = ifindex;
    mr.mr_type = PACKET_MR_PROMISC;
    if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) != 0)
        return wire_errf(err, cap, "userspace impairment: promiscuous mode on %s: %s", ifname, strerror(errno));
    return ifindex;
}

static int thread_setup(struct uimpair *u, char *err, size_t cap)
{
    if (setns(u->router_fd, CLONE_NEWNET) != 0)
        return wire_errf(err, cap, "userspace impairment: setns into the router namespace: %s", strerror(errno));
    /* Timer wakeups are otherwise rounded up by 50 us of slack. */
    (void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    struct sched_param sp = {.sched_priority = FIFO_PRIORITY};
    int rc = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
    if (rc == 0)
        snprintf(u->sched_note, sizeof u->sched_note, "SCHED_FIFO priority %d", FIFO_PRIORITY);
    else
        snprintf(u->sched_note, sizeof u->sched_note, "SCHED_OTHER (SCHED_FIFO refused: %s)", strerror(rc));
    int idx[2];
    for (int i = 0; i < 2; i++)
        if ((idx[i] = open_packet_socket(u, i, err, cap)) < 0)
            return -1;
    /* to-sut: in on the peer side, out on the SUT side; to-peer the reverse */
    u->d[UIMPAIR_TO_SUT].in_fd = u->sock[0];
    u->d[UIMPAIR_TO_SUT].out_fd = u->sock[1];
    u->d[UIMPAIR_TO_SUT].out_ifindex = idx[1];
    u->d[UIMPAIR_TO_PEER].in_fd = u->sock[1];
    u->d[UIMPAIR_TO_PEER].out_fd = u->sock[0];
    u->d[UIMPAIR_TO_PEER].out_ifindex = idx[0];
    u->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (u->timer_fd < 0)
        return wire_errf(err, cap, "userspace impairment: timerfd: %s", strerror(errno));
    return 0;
}

/* Receive what is waiting on d's ingress socket, a few batches at most. */
static void receive(struct uimpair *u, struct direction *d)
{
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    struct sockaddr_ll from[BATCH];
    union {
        char buf[CMSG_SPACE(sizeof(struct timespec))];
        struct cmsghdr align;
    } ctl[BATCH];
    for (int b = 0; b < BATCHES_PER_WAKE; b++) {
        memset(msgs, 0, sizeof msgs);
        for (int i = 0; i < BATCH; i++) {
            iov[i].iov_base = u->rx + (size_t)i * FRAME_CAP;
            iov[i].iov_len = FRAME_CAP;
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &from[i];
            msgs[i].msg_hdr.msg_namelen = sizeof from[i];
            msgs[i].msg_hdr.msg_control = ctl[i].buf;
            msgs[i].msg_hdr.msg_controllen = sizeof ctl[i].buf;
        }
        int n = recvmmsg(d->in_fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return;
        int64_t rt_now = clock_ns(CLOCK_REALTIME), mono_now = mono_ns();
        for (int i = 0; i < n; i++) {
            if (from[i].sll_pkttype == PACKET_OUTGOING)
                continue; /* our own sends, should PACKET_IGNORE_OUTGOING ever miss one */
            int64_t arrival_rt = rt_now;
            for (struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
                    struct timespec ts;
                    memcpy(&ts, CMSG_DATA(c), sizeof ts);
                    arrival_rt = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
                }
            }
            /* the kernel's receive time, on the monotonic clock we schedule by */
            int64_t arrival = mono_now - (rt_now - arrival_rt);
            if (arrival > mono_now)
                arrival = mono_now;
            if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
                d->stats.frames_in++;
                d->stats.send_errors++; /* larger than any veth MTU: cannot be forwarded whole */
                continue;
            }
            process_frame(u, d, u->rx + (size_t)i * FRAME_CAP, msgs[i].msg_len, arrival, arrival_rt);
        }
        if (n < BATCH)
            return;
    }
}

/* A pending socket error (the veth went down, for instance) keeps poll
 * returning at once until it is read: read it, and say so in the log. */
static void socket_error(struct uimpair *u, int which)
{
    int e = 0;
    socklen_t len = sizeof e;
    if (getsockopt(u->sock[which], SOL_SOCKET, SO_ERROR, &e, &len) == 0 && e != 0)
        log_printf(u, "# %lld socket error on %s: %s\n", (long long)log_time_us(u, clock_ns(CLOCK_REALTIME)),
                   u->if_name[which], strerror(e));
}

static void arm_timer(struct uimpair *u, int64_t at_ns)
{
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    if (at_ns != INT64_MAX) {
        if (at_ns <= 0)
            at_ns = 1;
        its.it_value.tv_sec = at_ns / 1000000000;
        its.it_value.tv_nsec = at_ns % 1000000000;
    }
    timerfd_settime(u->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void forward(struct uimpair *u)
{
    int64_t armed = -1;
    while (!atomic_load(&u->stop)) {
        apply_pending(u);
        int64_t now = mono_ns(), next = INT64_MAX;
        for (int i = 0; i < 2; i++) {
            int64_t t = release(&u->d[i], now);
            if (t < next)
                next = t;
        }
        if (next != INT64_MAX && next - mono_ns() <= SPIN_NS) {
            while (mono_ns() < next)
                ; /* a few microseconds: cheaper than being late */
            continue;
        }
        if (u->log_len >= LOG_FORCE_BYTES)
            log_write_out(u);
        else if (u->log_len >= LOG_FLUSH_BYTES && (next == INT64_MAX || next - mono_ns() > LOG_IDLE_NS))
            log_write(u, LOG_FLUSH_BYTES);
        int64_t wake = next == INT64_MAX ? INT64_MAX : next - SPIN_NS;
        if (wake != armed) {
            arm_timer(u, wake);
            armed = wake;
        }
        struct pollfd pfd[4] = {
            {u->sock[0], POLLIN, 0},
            {u->sock[1], POLLIN, 0},
            {u->timer_fd, POLLIN, 0},
            {u->wake_fd, POLLIN, 0},
        };
        if (poll(pfd, 4, -1) < 0)
            continue;
        uint64_t count;
        if (pfd[2].revents & POLLIN) {
            if (read(u->timer_fd, &count, sizeof count) < 0)
                count = 0;
            armed = -1;
        }
        if (pfd[3].revents & POLLIN) {
            if (read(u->wake_fd, &count, sizeof count) < 0)
                count = 0;
        }
        for (int i = 0; i < 2; i++) {
            if (pfd[i].revents & POLLERR)
                socket_error(u, i);
            if (pfd[i].revents & POLLIN)
                receive(u, &u->d[i == 0 ? UIMPAIR_TO_SUT : UIMPAIR_TO_PEER]);
        }
    }
}

static void *thread_main(void *arg)
{
    struct uimpair *u = arg;
    char err[256];
    int rc = thread_setup(u, err, sizeof err);
    pthread_mutex_lock(&u->start_mu);
    u->start_state = rc == 0 ? 1 : -1;
    if (rc != 0)
        snprintf(u->start_err, sizeof u->start_err, "%s", err);
    pthread_cond_signal(&u->start_cv);
    pthread_mutex_unlock(&u->start_mu);
    if (rc != 0)
        return NULL;
    log_printf(u, "# scheduling %s\n", u->sched_note);
    forward(u);
    apply_pending(u); /* log what uimpair_set handed over at the very end */
    size_t left = u->d[0].queue.n + u->d[1].queue.n;
    if (left)
        log_printf(u, "# stop: %zu queued frames discarded\n", left);
    log_write_out(u);
    return NULL;
}

/* ---- API ----------------------------------------------------------------- */

static void destroy(struct uimpair *u)
{
    for (int i = 0; i < 2; i++) {
        struct direction *d = &u->d[i];
        while (d->queue.n > 0)
            free(heap_pop(&d->queue));
        free(d->queue.v);
        free(d->flows.flows);
        free(d->flows.slots);
        free(d->err_us);
        if (u->sock[i] >= 0)
            close(u->sock[i]);
    }
    if (u->timer_fd >= 0)
        close(u->timer_fd);
    if (u->wake_fd >= 0)
        close(u->wake_fd);
    if (u->log_fd >= 0)
        close(u->log_fd);
    if (u->router_fd >= 0)
        close(u->router_fd);
    pthread_mutex_destroy(&u->mu);
    pthread_mutex_destroy(&u->start_mu);
    pthread_cond_destroy(&u->start_cv);
    free(u->log_buf);
    free(u->rx);
    free(u);
}

static void wake(struct uimpair *u)
{
    uint64_t one = 1;
    if (write(u->wake_fd, &one, sizeof one) < 0)
        return; /* the counter is saturated: the thread is awake anyway */
}

int uimpair_start(const struct uimpair_opts *o, struct uimpair **out, char *err, size_t cap)
{
    *out = NULL;
    const char *names[2] = {o->peer_ifname, o->sut_ifname};
    for (int i = 0; i < 2; i++)
        if (!names[i] || !names[i][0] || strlen(names[i]) >= IF_NAMESIZE)
            return wire_errf(err, cap, "userspace impairment: bad interface name '%s'", names[i] ? names[i] : "(null)");
    char why[200];
    for (int i = 0; i < 2; i++)
        if (uimpair_check_spec(&o->spec[i], why, sizeof why) != 0)
            return wire_errf(err, cap, "userspace impairment %s: %s", i == UIMPAIR_TO_SUT ? "to-sut" : "to-peer", why);

    struct uimpair *u = calloc(1, sizeof *u);
    if (!u)
        return wire_errf(err, cap, "userspace impairment: out of memory");
    u->sock[0] = u->sock[1] = u->wake_fd = u->timer_fd = u->log_fd = u->router_fd = -1;
    pthread_mutex_init(&u->mu, NULL);
    pthread_mutex_init(&u->start_mu, NULL);
    pthread_cond_init(&u->start_cv, NULL);
    for (int i = 0; i < 2; i++)
        snprintf(u->if_name[i], sizeof u->if_name[i], "%s", names[i]);
    u->t0_ns = o->t0_ns;
    atomic_init(&u->pending, 0);
    atomic_init(&u->blackout_until_ns, INT64_MIN);
    atomic_init(&u->blackout_seq, 0);
    atomic_init(&u->stop, 0);

    u->router_fd = fcntl(o->router_netns_fd, F_DUPFD_CLOEXEC, 0);
    if (u->router_fd < 0) {
        wire_errf(err, cap, "userspace impairment: router namespace descriptor %d: %s", o->router_netns_fd,
             strerror(errno));
        destroy(u);
        return -1;
    }
    u->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    u->rx = malloc((size_t)BATCH * FRAME_CAP);
    u->log_cap = 1 << 16;
    u->log_buf = malloc(u->log_cap);
    if (u->wake_fd < 0 || !u->rx || !u->log_buf) {
        wire_errf(err, cap, "userspace impairment: %s", u->wake_fd < 0 ? strerror(errno) : "out of memory");
        destroy(u);
        return -1;
    }
    if (o->log_path) {
        snprintf(u->log_path, sizeof u->log_path, "%s", o->log_path);
        u->log_fd = open(o->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (u->log_fd < 0) {
            wire_errf(err, cap, "userspace impairment: decision log %s: %s", o->log_path, strerror(errno));
            destroy(u);
            return -1;
        }
    }
    static const char *const dir_names[2] = {"to-sut", "to-peer"};
    for (int i = 0; i < 2; i++) {
        u->d[i].dir = (enum uimpair_dir)i;
        u->d[i].name = dir_names[i];
        u->d[i].in_fd = u->d[i].out_fd = -1;
        install_spec(u, &u->d[i], &o->spec[i], NULL);
    }
    log_printf(u, "# rtsp-harness impairment log v1\n");
    log_printf(u, "# seed %llu\n", (unsigned long long)o->spec[UIMPAIR_TO_SUT].seed);
    if (o->spec[UIMPAIR_TO_PEER].seed != o->spec[UIMPAIR_TO_SUT].seed)
        log_printf(u, "# seed-to-peer %llu\n", (unsigned long long)o->spec[UIMPAIR_TO_PEER].seed);
    log_spec(u, "spec", &u->d[UIMPAIR_TO_SUT]);
    log_spec(u, "spec", &u->d[UIMPAIR_TO_PEER]);
    log_printf(u, "# t0_ns %lld\n", (long long)u->t0_ns);
    log_printf(u, "# columns: t_us dir flow idx proto src dst len rtp_ssrc rtp_seq action delay_us\n");

    int rc = pthread_create(&u->thread, NULL, thread_main, u);
    if (rc != 0) {
        wire_errf(err, cap, "userspace impairment: thread: %s", strerror(rc));
        destroy(u);
        return -1;
    }
    u->thread_started = true;
    pthread_mutex_lock(&u->start_mu);
    while (u->start_state == 0)
        pthread_cond_wait(&u->start_cv, &u->start_mu);
    int state = u->start_state;
    pthread_mutex_unlock(&u->start_mu);
    if (state < 0) {
        pthread_join(u->thread, NULL);
        wire_errf(err, cap, "%s", u->start_err);
        u->log_len = 0; /* a forwarder that never ran leaves an empty log */
        destroy(u);
        return -1;
    }
    *out = u;
    return 0;
}

int uimpair_set(struct uimpair *u, enum uimpair_dir dir, const struct impair_spec *s)
{
    if ((unsigned)dir > UIMPAIR_TO_PEER || uimpair_check_spec(s, NULL, 0) != 0)
        return -1;
    pthread_mutex_lock(&u->mu);
    u->next_spec[dir] = *s;
    u->next_pending[dir] = true;
    atomic_store(&u->pending, 1);
    pthread_mutex_unlock(&u->mu);
    wake(u);
    return 0;
}

void uimpair_blackout(struct uimpair *u, uint64_t duration_us)
{
    int64_t until = mono_ns() + (int64_t)(duration_us > INT64_MAX / 2000 ? INT64_MAX / 2000 : duration_us) * 1000;
    int64_t cur = atomic_load(&u->blackout_until_ns);
    while (until > cur && !atomic_compare_exchange_weak(&u->blackout_until_ns, &cur, until))
        ;
    atomic_fetch_add(&u->blackout_seq, 1);
    atomic_store(&u->pending, 1);
    wake(u);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n). */
static double percentile(const float *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    size_t rank = (size_t)ceil(q * (double)n);
    return v[rank > 0 ? rank - 1 : 0];
}

void uimpair_stop(struct uimpair *u, struct uimpair_stats stats[2])
{
    if (!u)
        return;
    atomic_store(&u->stop, 1);
    wake(u);
    if (u->thread_started)
        pthread_join(u->thread, NULL);
    for (int i = 0; i < 2; i++) {
        struct direction *d = &u->d[i];
        struct tpacket_stats ps;
        socklen_t len = sizeof ps;
        if (d->in_fd >= 0 && getsockopt(d->in_fd, SOL_PACKET, PACKET_STATISTICS, &ps, &len) == 0)
            d->stats.rx_kernel_drops += ps.tp_drops;
        if (d->err_n > 0) {
            qsort(d->err_us, d->err_n, sizeof *d->err_us, cmp_float);
            d->stats.delay_err_p50_us = percentile(d->err_us, d->err_n, 0.50);
            d->stats.delay_err_p99_us = percentile(d->err_us, d->err_n, 0.99);
        }
        if (stats)
            stats[i] = d->stats;
    }
    destroy(u);
}
