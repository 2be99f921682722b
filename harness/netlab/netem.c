/* The netem backend: builds rtnetlink qdisc requests from an impair_spec,
 * sends them inside a network namespace with libnl, and decodes what the
 * kernel reports back. See netem.h for the contract.
 *
 * Wire format (kernel net/sched/sch_netem.c, netem_change and netem_dump;
 * iproute2 tc/q_netem.c): TCA_OPTIONS holds a struct tc_netem_qopt followed
 * directly by TCA_NETEM_* attributes, so it is not a plain nest and is built
 * by hand. Probabilities are 32-bit fractions of UINT32_MAX (tc's
 * rint(p * UINT32_MAX)); qopt times are psched ticks of 64 ns, which
 * TCA_NETEM_LATENCY64 / JITTER64 (nanoseconds) override on every kernel
 * since 4.15; rate is in bytes per second. */
#include "netlab/netem.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>

#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/handlers.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

/* Linux 6.6 added the seed attribute after TCA_NETEM_SLOT_DIST; Debian 12's
 * uapi headers (6.1) do not have it. */
#ifndef TCA_NETEM_PRNG_SEED
#define TCA_NETEM_PRNG_SEED (TCA_NETEM_SLOT_DIST + 1)
#endif

#define NETEM_DEFAULT_LIMIT 1000u   /* tc's default queue limit, packets */
#define PSCHED_TICK_SHIFT 6         /* kernel PSCHED_SHIFT: a tick is 64 ns */
#define UNIFORM_TABLE_LEN 4096      /* entries of the generated uniform table */
#define REQUEST_MAX (64 * 1024)     /* a netlink request with the largest table fits */
#define JITTER_MAX_US 2147483u      /* netem caps jitter at INT_MAX ns */


/* ---- probabilities ---- */

static uint32_t ppm_to_u32(uint32_t ppm)
{
    return (uint32_t)rint((double)ppm / IMPAIR_PPM * UINT32_MAX);
}

static uint32_t u32_to_ppm(uint32_t v)
{
    return (uint32_t)rint((double)v / UINT32_MAX * IMPAIR_PPM);
}

static const char *dist_name(enum impair_dist d)
{
    switch (d) {
    case IMPAIR_DIST_UNIFORM: return "uniform";
    case IMPAIR_DIST_NORMAL: return "normal";
    case IMPAIR_DIST_PARETO: return "pareto";
    case IMPAIR_DIST_PARETONORMAL: return "paretonormal";
    }
    return "?";
}

/* ---- spec checks (tc refuses the same combinations) ---- */

static int check_spec(const struct impair_spec *s, char *err, size_t cap)
{
    if (impair_check(s, err, cap) < 0)
        return -1;
    if (s->jitter_us > JITTER_MAX_US) {
        wire_errf(err, cap, "jitter %u us is above netem's limit of %u us", s->jitter_us, JITTER_MAX_US);
        return -1;
    }
    if (s->dist_given && s->jitter_us == 0) {
        wire_errf(err, cap, "distribution %s needs a delay with jitter (netem draws the jitter from it)",
             dist_name(s->dist));
        return -1;
    }
    if (s->reorder_ppm && s->delay_us == 0) {
        wire_errf(err, cap, "reorder needs a delay: netem reorders by sending some packets without it");
        return -1;
    }
    if (s->reorder_gap && s->reorder_ppm == 0) {
        wire_errf(err, cap, "reorder gap %u needs a reorder percentage", s->reorder_gap);
        return -1;
    }
    bool has_loss = (s->loss_model == IMPAIR_LOSS_RANDOM && s->loss_ppm) ||
                    s->loss_model == IMPAIR_LOSS_GEMODEL || s->loss_model == IMPAIR_LOSS_STATE;
    if (s->ecn && !has_loss) {
        wire_errf(err, cap, "ecn needs a loss model (netem marks the packets it would drop)");
        return -1;
    }
    if (s->rate_bps % 8) {
        wire_errf(err, cap, "rate %llu bit/s is not a whole number of bytes per second (netem counts bytes)",
             (unsigned long long)s->rate_bps);
        return -1;
    }
    if ((s->slot_packets || s->slot_bytes) && !s->slot_min_us && !s->slot_max_us) {
        wire_errf(err, cap, "slot packets/bytes need a slot delay");
        return -1;
    }
    if (s->rate_bps == 0 && (s->rate_packet_overhead || s->rate_cell_size || s->rate_cell_overhead)) {
        wire_errf(err, cap, "rate overheads and cell size need a rate");
        return -1;
    }
    return 0;
}

/* ---- distribution tables ---- */

/* Read iproute2's NAME.dist (comment lines start with '#'; numbers
 * separated by blanks, each a signed 16-bit value scaled so that
 * NETEM_DIST_SCALE is one standard deviation) into table. */
static int load_dist_file(const char *path, int16_t *table, size_t max, size_t *n, char *err,
                          size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    char line[1024];
    unsigned lineno = 0;
    *n = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t ll = strlen(line);
        if (ll == sizeof line - 1 && line[ll - 1] != '\n') {
            wire_errf(err, cap, "%s:%u: line longer than %zu bytes", path, lineno, sizeof line - 2);
            fclose(f);
            return -EINVAL;
        }
        if (line[0] == '#' || line[0] == '\n')
            continue;
        char *p = line;
        for (;;) {
            while (*p == ' ' || *p == '\t')
                p++;
            char *end;
            errno = 0;
            long v = strtol(p, &end, 0);
            if (end == p)
                break;
            if (errno || v < INT16_MIN || v > INT16_MAX) {
                wire_errf(err, cap, "%s:%u:%ld: value out of the 16-bit range", path, lineno,
                     (long)(p - line) + 1);
                fclose(f);
                return -EINVAL;
            }
            if (*n >= max) {
                wire_errf(err, cap, "%s:%u: more than %zu values (netem's maximum)", path, lineno, max);
                fclose(f);
                return -EINVAL;
            }
            table[(*n)++] = (int16_t)v;
            p = end;
        }
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != '\n' && *p != '\0') {
            wire_errf(err, cap, "%s:%u:%ld: not a number", path, lineno, (long)(p - line) + 1);
            fclose(f);
            return -EINVAL;
        }
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        wire_errf(err, cap, "%s: read error", path);
        return -EIO;
    }
    if (*n == 0) {
        wire_errf(err, cap, "%s: no values", path);
        return -EINVAL;
    }
    return 0;
}

/* Fill table with the named distribution. Uniform is generated: netem keeps
 * a table it was once given, so a change back to uniform jitter must send
 * one; 4096 evenly spaced values over +-NETEM_DIST_SCALE give netem's own
 * uniform draw over [delay - jitter, delay + jitter]. */
static int load_dist(enum impair_dist d, int16_t *table, size_t max, size_t *n, char *err,
                     size_t cap)
{
    if (d == IMPAIR_DIST_UNIFORM) {
        for (size_t i = 0; i < UNIFORM_TABLE_LEN; i++)
            table[i] = (int16_t)((long)(2 * i + 1) * NETEM_DIST_SCALE / UNIFORM_TABLE_LEN -
                                 NETEM_DIST_SCALE);
        *n = UNIFORM_TABLE_LEN;
        return 0;
    }
    const char *name = dist_name(d);
    const char *env = getenv("TC_LIB_DIR");
    const char *dirs_default[] = {"/usr/lib/x86_64-linux-gnu/tc", "/usr/lib/tc", "/usr/lib64/tc"};
    const char *dirs_env[] = {env};
    const char **dirs = env && *env ? dirs_env : dirs_default;
    size_t ndirs = env && *env ? 1 : sizeof dirs_default / sizeof dirs_default[0];
    char tried[512] = "";
    size_t tl = 0;
    for (size_t i = 0; i < ndirs; i++) {
        char path[PATH_MAX];
        int w = snprintf(path, sizeof path, "%s/%s.dist", dirs[i], name);
        if (w < 0 || (size_t)w >= sizeof path) {
            wire_errf(err, cap, "distribution table path %s/%s.dist is too long", dirs[i], name);
            return -1;
        }
        char ferr[320] = "";
        int r = load_dist_file(path, table, max, n, ferr, sizeof ferr);
        if (r == 0)
            return 0;
        if (r != -ENOENT) {
            if (ferr[0])
                wire_errf(err, cap, "%s", ferr);
            else
                wire_errf(err, cap, "%s: %s", path, strerror(-r));
            return -1;
        }
        w = snprintf(tried + tl, sizeof tried - tl, "%s%s", tl ? ", " : "", path);
        if (w > 0 && (size_t)w < sizeof tried - tl)
            tl += (size_t)w;
    }
    wire_errf(err, cap,
         "distribution %s needs iproute2's table %s.dist, which is not installed (looked for %s); "
         "install iproute2 or set TC_LIB_DIR to the directory that holds it",
         name, name, tried);
    return -1;
}

/* ---- building the request ---- */

static int put(struct nl_msg *m, int type, size_t len, const void *data)
{
    return nla_put(m, type, (int)len, data) < 0 ? -1 : 0;
}

/* The RTM_NEWQDISC request for spec s on ifindex, or NULL with err. */
static struct nl_msg *build_msg(int ifindex, const struct impair_spec *s, char *err, size_t cap)
{
    if (check_spec(s, err, cap) < 0)
        return NULL;

    int16_t *table = NULL;
    size_t table_len = 0;
    if (s->jitter_us) {
        table = malloc(NETEM_DIST_MAX * sizeof *table);
        if (!table) {
            wire_errf(err, cap, "out of memory for the distribution table");
            return NULL;
        }
        if (load_dist(s->dist, table, NETEM_DIST_MAX, &table_len, err, cap) < 0) {
            free(table);
            return NULL;
        }
    }

    uint64_t latency_ns = (uint64_t)s->delay_us * 1000u;
    uint64_t jitter_ns = (uint64_t)s->jitter_us * 1000u;
    uint64_t lat_ticks = latency_ns >> PSCHED_TICK_SHIFT, jit_ticks = jitter_ns >> PSCHED_TICK_SHIFT;

    struct tc_netem_qopt qopt = {
        .latency = lat_ticks > UINT32_MAX ? UINT32_MAX : (uint32_t)lat_ticks,
        .limit = s->limit_packets ? s->limit_packets : NETEM_DEFAULT_LIMIT,
        .loss = s->loss_model == IMPAIR_LOSS_RANDOM ? ppm_to_u32(s->loss_ppm) : 0,
        /* gap 0 disables reordering in the kernel; tc sends 1 when only a
         * percentage is given */
        .gap = s->reorder_ppm ? (s->reorder_gap ? s->reorder_gap : 1) : 0,
        .duplicate = ppm_to_u32(s->duplicate_ppm),
        .jitter = jit_ticks > UINT32_MAX ? UINT32_MAX : (uint32_t)jit_ticks,
    };
    struct tc_netem_corr corr = {
        .delay_corr = ppm_to_u32(s->delay_corr_ppm),
        .loss_corr = s->loss_model == IMPAIR_LOSS_RANDOM ? ppm_to_u32(s->loss_corr_ppm) : 0,
        .dup_corr = ppm_to_u32(s->duplicate_corr_ppm),
    };
    struct tc_netem_reorder reorder = {
        .probability = ppm_to_u32(s->reorder_ppm),
        .correlation = ppm_to_u32(s->reorder_corr_ppm),
    };
    struct tc_netem_corrupt corrupt = {
        .probability = ppm_to_u32(s->corrupt_ppm),
        .correlation = ppm_to_u32(s->corrupt_corr_ppm),
    };
    uint64_t rate_Bps = s->rate_bps / 8;
    struct tc_netem_rate rate = {
        .rate = rate_Bps >= (1ull << 32) ? UINT32_MAX : (uint32_t)rate_Bps,
        .packet_overhead = s->rate_packet_overhead,
        .cell_size = s->rate_cell_size,
        .cell_overhead = s->rate_cell_overhead,
    };
    /* An all-zero slot switches slotting off, so it is always sent. */
    uint32_t slot_max_us = s->slot_max_us ? s->slot_max_us : s->slot_min_us;
    struct tc_netem_slot slot = {
        .min_delay = (int64_t)s->slot_min_us * 1000,
        .max_delay = (int64_t)slot_max_us * 1000,
        .max_packets = s->slot_packets,
        .max_bytes = s->slot_bytes,
    };
    uint32_t ecn = s->ecn ? 1 : 0;
    int64_t lat64 = (int64_t)latency_ns, jit64 = (int64_t)jitter_ns;

    struct nl_msg *m = nlmsg_alloc_size(REQUEST_MAX);
    if (!m) {
        free(table);
        wire_errf(err, cap, "out of memory for the netlink request");
        return NULL;
    }
    struct tcmsg tcm = {
        .tcm_family = AF_UNSPEC,
        .tcm_ifindex = ifindex,
        .tcm_handle = 0,
        .tcm_parent = TC_H_ROOT,
    };
    struct nlattr *opts = NULL;
    if (!nlmsg_put(m, 0, 0, RTM_NEWQDISC, 0, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE) ||
        nlmsg_append(m, &tcm, sizeof tcm, NLMSG_ALIGNTO) < 0 ||
        nla_put_string(m, TCA_KIND, "netem") < 0 ||
        !(opts = nla_reserve(m, TCA_OPTIONS, sizeof qopt)))
        goto too_big;
    memcpy(nla_data(opts), &qopt, sizeof qopt);

    if (put(m, TCA_NETEM_CORR, sizeof corr, &corr) || put(m, TCA_NETEM_REORDER, sizeof reorder, &reorder) ||
        put(m, TCA_NETEM_CORRUPT, sizeof corrupt, &corrupt) ||
        put(m, TCA_NETEM_ECN, sizeof ecn, &ecn) || put(m, TCA_NETEM_SLOT, sizeof slot, &slot) ||
        put(m, TCA_NETEM_LATENCY64, sizeof lat64, &lat64) ||
        put(m, TCA_NETEM_JITTER64, sizeof jit64, &jit64))
        goto too_big;

    if (s->loss_model == IMPAIR_LOSS_GEMODEL || s->loss_model == IMPAIR_LOSS_STATE) {
        struct nlattr *loss = nla_nest_start(m, TCA_NETEM_LOSS);
        if (!loss)
            goto too_big;
        if (s->loss_model == IMPAIR_LOSS_GEMODEL) {
            /* tc's third gemodel number is 1-h; the kernel wants h */
            struct tc_netem_gemodel ge = {
                .p = ppm_to_u32(s->loss_ppm),
                .r = ppm_to_u32(s->ge_r_ppm),
                .h = UINT32_MAX - ppm_to_u32(s->ge_1h_ppm),
                .k1 = ppm_to_u32(s->ge_1k_ppm),
            };
            if (put(m, NETEM_LOSS_GE, sizeof ge, &ge))
                goto too_big;
        } else {
            struct tc_netem_gimodel gi = {
                .p13 = ppm_to_u32(s->st_p13_ppm),
                .p31 = ppm_to_u32(s->st_p31_ppm),
                .p32 = ppm_to_u32(s->st_p32_ppm),
                .p14 = ppm_to_u32(s->st_p14_ppm),
                .p23 = ppm_to_u32(s->st_p23_ppm),
            };
            if (put(m, NETEM_LOSS_GI, sizeof gi, &gi))
                goto too_big;
        }
        if (nla_nest_end(m, loss) < 0)
            goto too_big;
    }

    if (rate_Bps >= (1ull << 32) && put(m, TCA_NETEM_RATE64, sizeof rate_Bps, &rate_Bps))
        goto too_big;
    if (put(m, TCA_NETEM_RATE, sizeof rate, &rate))
        goto too_big;
    if (s->seed_given) {
        uint64_t seed = s->seed;
        if (put(m, TCA_NETEM_PRNG_SEED, sizeof seed, &seed))
            goto too_big;
    }
    if (table_len && put(m, TCA_NETEM_DELAY_DIST, table_len * sizeof table[0], table))
        goto too_big;

    size_t opts_len = (size_t)((char *)nlmsg_tail(nlmsg_hdr(m)) - (char *)opts);
    if (opts_len > UINT16_MAX)
        goto too_big;
    opts->nla_len = (uint16_t)opts_len;
    free(table);
    return m;

too_big:
    free(table);
    nlmsg_free(m);
    wire_errf(err, cap, "netem request does not fit in %d bytes", REQUEST_MAX);
    return NULL;
}

int netem_build_request(int ifindex, const struct impair_spec *s, uint8_t *buf, size_t cap,
                        size_t *len, char *err, size_t errcap)
{
    struct nl_msg *m = build_msg(ifindex, s, err, errcap);
    if (!m)
        return -1;
    struct nlmsghdr *h = nlmsg_hdr(m);
    if (h->nlmsg_len > cap) {
        wire_errf(err, errcap, "netem request of %u bytes does not fit in %zu", h->nlmsg_len, cap);
        nlmsg_free(m);
        return -1;
    }
    memcpy(buf, h, h->nlmsg_len);
    *len = h->nlmsg_len;
    nlmsg_free(m);
    return 0;
}

/* ---- decoding what the kernel reports ---- */

/* Copy a fixed-size option out of the attribute stream, after checking the
 * attribute holds that many bytes. */
static int take(const char *name, const void *src, size_t have, void *dst, size_t want, size_t off,
                char *err, size_t cap)
{
    if (have < want) {
        wire_errf(err, cap, "netem option %s at offset %zu has %zu bytes, expected %zu", name, off, have,
             want);
        return -1;
    }
    memcpy(dst, src, want);
    return 0;
}

int netem_decode_options(const uint8_t *opts, size_t len, struct impair_spec *out,
                         bool *seed_reported, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    if (seed_reported)
        *seed_reported = false;
    struct tc_netem_qopt qopt;
    if (take("tc_netem_qopt", opts, len, &qopt, sizeof qopt, 0, err, cap) < 0)
        return -1;

    int64_t lat64 = -1, jit64 = -1;
    uint64_t rate64 = 0;
    struct tc_netem_corr corr = {0};
    struct tc_netem_reorder reorder = {0};
    struct tc_netem_rate rate = {0};
    bool have_reorder = false;

    size_t off = NLA_ALIGN(sizeof qopt);
    while (off + NLA_HDRLEN <= len) {
        struct nlattr a;
        memcpy(&a, opts + off, sizeof a);
        if (a.nla_len < NLA_HDRLEN || a.nla_len > len - off) {
            wire_errf(err, cap, "netem attribute at offset %zu has length %u, %zu bytes left", off,
                 a.nla_len, len - off);
            return -1;
        }
        const uint8_t *p = opts + off + NLA_HDRLEN;
        size_t pl = a.nla_len - NLA_HDRLEN;
        switch (a.nla_type & NLA_TYPE_MASK) {
        case TCA_NETEM_CORR:
            if (take("CORR", p, pl, &corr, sizeof corr, off, err, cap) < 0)
                return -1;
            break;
        case TCA_NETEM_REORDER:
            if (take("REORDER", p, pl, &reorder, sizeof reorder, off, err, cap) < 0)
                return -1;
            have_reorder = true;
            break;
        case TCA_NETEM_CORRUPT: {
            struct tc_netem_corrupt c;
            if (take("CORRUPT", p, pl, &c, sizeof c, off, err, cap) < 0)
                return -1;
            out->corrupt_ppm = u32_to_ppm(c.probability);
            out->corrupt_corr_ppm = u32_to_ppm(c.correlation);
            break;
        }
        case TCA_NETEM_RATE:
            if (take("RATE", p, pl, &rate, sizeof rate, off, err, cap) < 0)
                return -1;
            break;
        case TCA_NETEM_RATE64:
            if (take("RATE64", p, pl, &rate64, sizeof rate64, off, err, cap) < 0)
                return -1;
            break;
        case TCA_NETEM_ECN: {
            uint32_t v;
            if (take("ECN", p, pl, &v, sizeof v, off, err, cap) < 0)
                return -1;
            out->ecn = v != 0;
            break;
        }
        case TCA_NETEM_LATENCY64:
            if (take("LATENCY64", p, pl, &lat64, sizeof lat64, off, err, cap) < 0)
                return -1;
            break;
        case TCA_NETEM_JITTER64:
            if (take("JITTER64", p, pl, &jit64, sizeof jit64, off, err, cap) < 0)
                return -1;
            break;
        case TCA_NETEM_SLOT: {
            struct tc_netem_slot sl;
            if (take("SLOT", p, pl, &sl, sizeof sl, off, err, cap) < 0)
                return -1;
            if (sl.min_delay < 0 || sl.max_delay < 0 || sl.min_delay / 1000 > UINT32_MAX ||
                sl.max_delay / 1000 > UINT32_MAX) {
                wire_errf(err, cap, "netem SLOT at offset %zu has delays %lld..%lld ns out of range", off,
                     (long long)sl.min_delay, (long long)sl.max_delay);
                return -1;
            }
            out->slot_min_us = (uint32_t)(sl.min_delay / 1000);
            out->slot_max_us = (uint32_t)(sl.max_delay / 1000);
            out->slot_packets = sl.max_packets;
            out->slot_bytes = sl.max_bytes;
            break;
        }
        case TCA_NETEM_LOSS: {
            size_t noff = 0;
            while (noff + NLA_HDRLEN <= pl) {
                struct nlattr na;
                memcpy(&na, p + noff, sizeof na);
                if (na.nla_len < NLA_HDRLEN || na.nla_len > pl - noff) {
                    wire_errf(err, cap, "netem LOSS model at offset %zu has length %u, %zu bytes left",
                         off + NLA_HDRLEN + noff, na.nla_len, pl - noff);
                    return -1;
                }
                const uint8_t *np = p + noff + NLA_HDRLEN;
                size_t npl = na.nla_len - NLA_HDRLEN;
                if ((na.nla_type & NLA_TYPE_MASK) == NETEM_LOSS_GE) {
                    struct tc_netem_gemodel ge;
                    if (take("LOSS/GE", np, npl, &ge, sizeof ge, off + NLA_HDRLEN + noff, err, cap) < 0)
                        return -1;
                    out->loss_model = IMPAIR_LOSS_GEMODEL;
                    out->loss_ppm = u32_to_ppm(ge.p);
                    out->ge_r_ppm = u32_to_ppm(ge.r);
                    out->ge_1h_ppm = u32_to_ppm(UINT32_MAX - ge.h);
                    out->ge_1k_ppm = u32_to_ppm(ge.k1);
                } else if ((na.nla_type & NLA_TYPE_MASK) == NETEM_LOSS_GI) {
                    struct tc_netem_gimodel gi;
                    if (take("LOSS/GI", np, npl, &gi, sizeof gi, off + NLA_HDRLEN + noff, err, cap) < 0)
                        return -1;
                    out->loss_model = IMPAIR_LOSS_STATE;
                    out->st_p13_ppm = u32_to_ppm(gi.p13);
                    out->st_p31_ppm = u32_to_ppm(gi.p31);
                    out->st_p32_ppm = u32_to_ppm(gi.p32);
                    out->st_p23_ppm = u32_to_ppm(gi.p23);
                    out->st_p14_ppm = u32_to_ppm(gi.p14);
                } else {
                    wire_errf(err, cap, "netem LOSS at offset %zu has unknown model %u",
                         off + NLA_HDRLEN + noff, na.nla_type & NLA_TYPE_MASK);
                    return -1;
                }
                noff += NLA_ALIGN(na.nla_len);
            }
            break;
        }
        case TCA_NETEM_PRNG_SEED:
            if (take("PRNG_SEED", p, pl, &out->seed, sizeof out->seed, off, err, cap) < 0)
                return -1;
            out->seed_given = true;
            if (seed_reported)
                *seed_reported = true;
            break;
        default:
            /* DELAY_DIST and SLOT_DIST are write-only; PAD is padding. */
            break;
        }
        off += NLA_ALIGN(a.nla_len);
    }

    out->limit_packets = qopt.limit;
    if (lat64 >= 0) {
        if (lat64 / 1000 > UINT32_MAX) {
            wire_errf(err, cap, "netem latency %lld ns does not fit the spec", (long long)lat64);
            return -1;
        }
        out->delay_us = (uint32_t)(lat64 / 1000);
    } else {
        out->delay_us = (uint32_t)(((uint64_t)qopt.latency << PSCHED_TICK_SHIFT) / 1000);
    }
    if (jit64 >= 0) {
        if (jit64 / 1000 > UINT32_MAX) {
            wire_errf(err, cap, "netem jitter %lld ns does not fit the spec", (long long)jit64);
            return -1;
        }
        out->jitter_us = (uint32_t)(jit64 / 1000);
    } else {
        out->jitter_us = (uint32_t)(((uint64_t)qopt.jitter << PSCHED_TICK_SHIFT) / 1000);
    }
    out->delay_corr_ppm = u32_to_ppm(corr.delay_corr);
    if (out->loss_model == IMPAIR_LOSS_NONE && qopt.loss) {
        out->loss_model = IMPAIR_LOSS_RANDOM;
        out->loss_ppm = u32_to_ppm(qopt.loss);
        out->loss_corr_ppm = u32_to_ppm(corr.loss_corr);
    }
    out->duplicate_ppm = u32_to_ppm(qopt.duplicate);
    out->duplicate_corr_ppm = u32_to_ppm(corr.dup_corr);
    if (have_reorder) {
        out->reorder_ppm = u32_to_ppm(reorder.probability);
        out->reorder_corr_ppm = u32_to_ppm(reorder.correlation);
    } else if (qopt.gap) {
        /* without a REORDER attribute netem reorders every gap-th packet */
        out->reorder_ppm = IMPAIR_PPM;
    }
    /* gap 1 is what netem does for "reorder P" without a gap */
    out->reorder_gap = out->reorder_ppm && qopt.gap > 1 ? qopt.gap : 0;
    out->rate_bps = (rate64 > rate.rate ? rate64 : rate.rate) * 8;
    out->rate_packet_overhead = rate.packet_overhead;
    out->rate_cell_size = rate.cell_size;
    out->rate_cell_overhead = rate.cell_overhead;
    return 0;
}

/* ---- comparing ---- */

int netem_spec_diff(const struct impair_spec *want, const struct impair_spec *got,
                    bool compare_seed, char *buf, size_t cap)
{
    struct impair_spec w = *want;
    if (!w.limit_packets)
        w.limit_packets = NETEM_DEFAULT_LIMIT;
    if (w.reorder_gap == 1)
        w.reorder_gap = 0;
    if (w.slot_max_us == 0)
        w.slot_max_us = w.slot_min_us;
    if (w.loss_model == IMPAIR_LOSS_RANDOM && w.loss_ppm == 0)
        w.loss_model = IMPAIR_LOSS_NONE;
    if (w.loss_model == IMPAIR_LOSS_NONE)
        w.loss_ppm = w.loss_corr_ppm = 0;
    if (w.loss_model != IMPAIR_LOSS_GEMODEL)
        w.ge_r_ppm = w.ge_1h_ppm = w.ge_1k_ppm = 0;
    if (w.loss_model != IMPAIR_LOSS_STATE)
        w.st_p13_ppm = w.st_p31_ppm = w.st_p32_ppm = w.st_p23_ppm = w.st_p14_ppm = 0;
    if (w.loss_model != IMPAIR_LOSS_RANDOM)
        w.loss_corr_ppm = 0;

#define DIFF(field, fmt, cast)                                                                    \
    do {                                                                                          \
        if (w.field != got->field) {                                                              \
            wire_errf(buf, cap, #field " is " fmt ", asked " fmt, (cast)got->field, (cast)w.field);     \
            return 1;                                                                             \
        }                                                                                         \
    } while (0)
    DIFF(limit_packets, "%u", unsigned);
    DIFF(delay_us, "%u", unsigned);
    DIFF(jitter_us, "%u", unsigned);
    DIFF(delay_corr_ppm, "%u", unsigned);
    DIFF(loss_model, "%d", int);
    DIFF(loss_ppm, "%u", unsigned);
    DIFF(loss_corr_ppm, "%u", unsigned);
    DIFF(ge_r_ppm, "%u", unsigned);
    DIFF(ge_1h_ppm, "%u", unsigned);
    DIFF(ge_1k_ppm, "%u", unsigned);
    DIFF(st_p13_ppm, "%u", unsigned);
    DIFF(st_p31_ppm, "%u", unsigned);
    DIFF(st_p32_ppm, "%u", unsigned);
    DIFF(st_p23_ppm, "%u", unsigned);
    DIFF(st_p14_ppm, "%u", unsigned);
    DIFF(ecn, "%d", int);
    DIFF(corrupt_ppm, "%u", unsigned);
    DIFF(corrupt_corr_ppm, "%u", unsigned);
    DIFF(duplicate_ppm, "%u", unsigned);
    DIFF(duplicate_corr_ppm, "%u", unsigned);
    DIFF(reorder_ppm, "%u", unsigned);
    DIFF(reorder_corr_ppm, "%u", unsigned);
    DIFF(reorder_gap, "%u", unsigned);
    DIFF(rate_bps, "%llu", unsigned long long);
    DIFF(rate_packet_overhead, "%d", int);
    DIFF(rate_cell_size, "%u", unsigned);
    DIFF(rate_cell_overhead, "%d", int);
    DIFF(slot_min_us, "%u", unsigned);
    DIFF(slot_max_us, "%u", unsigned);
    DIFF(slot_packets, "%d", int);
    DIFF(slot_bytes, "%d", int);
    if (compare_seed && w.seed_given) {
        DIFF(seed_given, "%d", int);
        DIFF(seed, "%llu", unsigned long long);
    }
#undef DIFF
    return 0;
}

/* ---- talking to the kernel inside a namespace ---- */

/* One netlink conversation with one interface. */
struct conv {
    struct nl_sock *sk;    /* NETLINK_ROUTE socket opened inside the namespace */
    int ifindex;           /* the interface, resolved inside the namespace */
    char where[160];       /* "veth0 in netns net:[4026532]" for messages */
};

/* What came back for one request. */
struct reply {
    bool done;             /* ack, error or end of dump seen */
    int error;             /* errno from the kernel (positive), 0 for success */
    char ext_msg[256];     /* the kernel's extended ack text, "" when none */
    int ifindex;           /* dump filter: root qdisc of this interface */
    bool found;            /* a root qdisc of ifindex was in the dump */
    uint32_t handle;       /* its handle */
    char kind[32];         /* its kind */
    uint8_t opts[2048];    /* its TCA_OPTIONS payload */
    size_t opts_len;
    bool opts_truncated;   /* payload larger than opts */
};

static void netns_name(int fd, char *buf, size_t cap)
{
    char path[64];
    if (fd >= 0)
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    else
        snprintf(path, sizeof path, "/proc/thread-self/ns/net");
    ssize_t n = readlink(path, buf, cap > 0 ? cap - 1 : 0);
    if (n <= 0) {
        snprintf(buf, cap, fd >= 0 ? "fd %d" : "of the calling thread", fd);
        return;
    }
    buf[n] = '\0';
}

static void conv_close(struct conv *c)
{
    if (c->sk)
        nl_socket_free(c->sk);
    c->sk = NULL;
}

/* Open a rtnetlink socket inside netns_fd and resolve ifname there. The
 * calling thread enters the namespace only for socket() and the name
 * lookup; a socket keeps the namespace it was created in. */
static int conv_open(struct conv *c, int netns_fd, const char *ifname, char *err, size_t cap)
{
    memset(c, 0, sizeof *c);
    char ns[64];
    netns_name(netns_fd, ns, sizeof ns);
    snprintf(c->where, sizeof c->where, "%s in netns %s", ifname ? ifname : "(null)", ns);
    if (!ifname || !*ifname || strlen(ifname) >= IFNAMSIZ) {
        wire_errf(err, cap, "netem on %s: not a valid interface name", c->where);
        return -1;
    }

    int orig = -1;
    if (netns_fd >= 0) {
        orig = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (orig < 0) {
            wire_errf(err, cap, "netem on %s: cannot open the thread's own netns: %s", c->where,
                 strerror(errno));
            return -1;
        }
        if (setns(netns_fd, CLONE_NEWNET) < 0) {
            wire_errf(err, cap, "netem on %s: cannot enter the netns: %s", c->where, strerror(errno));
            close(orig);
            return -1;
        }
    }

    int rc = 0;
    c->sk = nl_socket_alloc();
    if (!c->sk) {
        wire_errf(err, cap, "netem on %s: out of memory for a netlink socket", c->where);
        rc = -1;
    } else {
        int e = nl_connect(c->sk, NETLINK_ROUTE);
        if (e < 0) {
            wire_errf(err, cap, "netem on %s: cannot open a rtnetlink socket: %s", c->where, nl_geterror(e));
            rc = -1;
        } else {
            c->ifindex = (int)if_nametoindex(ifname);
            if (c->ifindex == 0) {
                wire_errf(err, cap, "netem on %s: no such interface (%s)", c->where, strerror(errno));
                rc = -1;
            }
        }
    }

    if (orig >= 0) {
        if (setns(orig, CLONE_NEWNET) < 0) {
            /* The thread is stranded in the other namespace; the caller
             * must not go on as if nothing happened. */
            wire_errf(err, cap, "netem on %s: cannot return to the thread's own netns: %s", c->where,
                 strerror(errno));
            rc = -1;
        }
        close(orig);
    }
    if (rc < 0) {
        conv_close(c);
        return -1;
    }

    /* Ask for the kernel's error text, without the request echoed back. */
    int one = 1;
    int fd = nl_socket_get_fd(c->sk);
    (void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
    (void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
    return 0;
}

static int on_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
    (void)who;
    struct reply *r = arg;
    r->done = true;
    r->error = -e->error;
    /* The extended ack attributes follow the error header (and the echoed
     * request unless capped); the outer header sits just before e. */
    const struct nlmsghdr *outer = (const struct nlmsghdr *)((const char *)e - NLMSG_HDRLEN);
    if (!(outer->nlmsg_flags & NLM_F_ACK_TLVS))
        return NL_STOP;
    size_t total = outer->nlmsg_len > NLMSG_HDRLEN ? outer->nlmsg_len - NLMSG_HDRLEN : 0;
    size_t off = sizeof *e;
    if (!(outer->nlmsg_flags & NLM_F_CAPPED))
        off += NLMSG_ALIGN(e->msg.nlmsg_len > NLMSG_HDRLEN ? e->msg.nlmsg_len - NLMSG_HDRLEN : 0);
    const uint8_t *base = (const uint8_t *)e;
    while (off + NLA_HDRLEN <= total) {
        struct nlattr a;
        memcpy(&a, base + off, sizeof a);
        if (a.nla_len < NLA_HDRLEN || a.nla_len > total - off)
            break;
        if ((a.nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
            size_t n = a.nla_len - NLA_HDRLEN;
            if (n >= sizeof r->ext_msg)
                n = sizeof r->ext_msg - 1;
            memcpy(r->ext_msg, base + off + NLA_HDRLEN, n);
            r->ext_msg[n] = '\0';
            r->ext_msg[strcspn(r->ext_msg, "\n")] = '\0';
        }
        off += NLA_ALIGN(a.nla_len);
    }
    return NL_STOP;
}

static int on_ack(struct nl_msg *m, void *arg)
{
    (void)m;
    ((struct reply *)arg)->done = true;
    return NL_STOP;
}

static int on_finish(struct nl_msg *m, void *arg)
{
    (void)m;
    ((struct reply *)arg)->done = true;
    return NL_STOP;
}

/* A qdisc of the dump: remember the root qdisc of r->ifindex. */
static int on_qdisc(struct nl_msg *m, void *arg)
{
    struct reply *r = arg;
    struct nlmsghdr *h = nlmsg_hdr(m);
    if (h->nlmsg_type != RTM_NEWQDISC || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct tcmsg)))
        return NL_OK;
    const struct tcmsg *t = nlmsg_data(h);
    if (t->tcm_ifindex != r->ifindex || t->tcm_parent != TC_H_ROOT)
        return NL_OK;
    struct nlattr *tb[TCA_MAX + 1];
    if (nlmsg_parse(h, sizeof *t, tb, TCA_MAX, NULL) < 0)
        return NL_OK;
    r->found = true;
    r->handle = t->tcm_handle;
    if (tb[TCA_KIND])
        snprintf(r->kind, sizeof r->kind, "%.*s", nla_len(tb[TCA_KIND]),
                 (const char *)nla_data(tb[TCA_KIND]));
    if (tb[TCA_OPTIONS]) {
        size_t n = (size_t)nla_len(tb[TCA_OPTIONS]);
        r->opts_truncated = n > sizeof r->opts;
        r->opts_len = n > sizeof r->opts ? sizeof r->opts : n;
        memcpy(r->opts, nla_data(tb[TCA_OPTIONS]), r->opts_len);
    }
    return NL_OK;
}

/* Send m (consumed) and read until the kernel acks, refuses or ends the
 * dump. Returns 0 when the exchange completed (r->error says how the kernel
 * answered), -1 with err on socket trouble. */
static int transact(struct conv *c, struct nl_msg *m, struct reply *r, char *err, size_t cap)
{
    struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
    if (!cb) {
        nlmsg_free(m);
        wire_errf(err, cap, "netem on %s: out of memory for netlink callbacks", c->where);
        return -1;
    }
    nl_cb_err(cb, NL_CB_CUSTOM, on_error, r);
    nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, on_ack, r);
    nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, on_finish, r);
    nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_qdisc, r);

    int rc = 0;
    int e = nl_send_auto(c->sk, m);
    nlmsg_free(m);
    if (e < 0) {
        wire_errf(err, cap, "netem on %s: sending the request failed: %s", c->where, nl_geterror(e));
        rc = -1;
    }
    while (rc == 0 && !r->done) {
        e = nl_recvmsgs(c->sk, cb);
        if (e < 0 && !r->done) {
            wire_errf(err, cap, "netem on %s: reading the answer failed: %s", c->where, nl_geterror(e));
            rc = -1;
        }
    }
    nl_cb_put(cb);
    return rc;
}

/* A request with just a tcmsg (and optionally a kind), for get, delete
 * and the probe. */
static struct nl_msg *small_msg(int type, int flags, int ifindex, const char *kind)
{
    struct nl_msg *m = nlmsg_alloc();
    if (!m)
        return NULL;
    struct tcmsg tcm = {.tcm_family = AF_UNSPEC, .tcm_ifindex = ifindex, .tcm_parent = TC_H_ROOT};
    if (!nlmsg_put(m, 0, 0, type, 0, flags) || nlmsg_append(m, &tcm, sizeof tcm, NLMSG_ALIGNTO) < 0 ||
        (kind && nla_put_string(m, TCA_KIND, kind) < 0)) {
        nlmsg_free(m);
        return NULL;
    }
    return m;
}

/* "No such file or directory (kernel: Specified qdisc kind is unknown.)" */
static void kernel_text(const struct reply *r, char *buf, size_t cap)
{
    if (r->ext_msg[0])
        snprintf(buf, cap, "%s (kernel: %s)", strerror(r->error), r->ext_msg);
    else
        snprintf(buf, cap, "%s", strerror(r->error));
}

static void explain_no_netem(const struct conv *c, const struct reply *r, char *err, size_t cap)
{
    char k[320];
    kernel_text(r, k, sizeof k);
    wire_errf(err, cap,
         "this kernel has no sch_netem (tc-netem); the kernel does not know the qdisc kind "
         "'netem' (CONFIG_NET_SCH_NETEM not built in, and the sch_netem module could not be "
         "loaded), so netem cannot run on %s: %s. Use the userspace impairment backend, or a "
         "kernel with netem (make test-netem boots one)",
         c->where, k);
}

static void explain_refusal(const struct conv *c, const char *what, const struct reply *r,
                            char *err, size_t cap)
{
    char k[320];
    kernel_text(r, k, sizeof k);
    wire_errf(err, cap, "netem on %s: %s refused: %s%s", c->where, what, k,
         r->error == EPERM ? " (configuring qdiscs needs CAP_NET_ADMIN)" : "");
}

/* Dump the qdiscs and keep the root qdisc of c->ifindex in r. */
static int dump_root(struct conv *c, struct reply *r, char *err, size_t cap)
{
    memset(r, 0, sizeof *r);
    r->ifindex = c->ifindex;
    struct nl_msg *m = small_msg(RTM_GETQDISC, NLM_F_REQUEST | NLM_F_DUMP, 0, NULL);
    if (!m) {
        wire_errf(err, cap, "netem on %s: out of memory for a netlink request", c->where);
        return -1;
    }
    if (transact(c, m, r, err, cap) < 0)
        return -1;
    if (r->error) {
        explain_refusal(c, "listing qdiscs", r, err, cap);
        return -1;
    }
    return 0;
}

/* Decode r's root qdisc; 0 netem, NETEM_NOT_NETEM, -1 error. */
static int root_spec(const struct conv *c, const struct reply *r, struct impair_spec *out,
                     bool *seed_reported, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    if (!r->found) {
        wire_errf(err, cap, "netem on %s: the root qdisc is the interface's built-in default, not netem",
             c->where);
        return NETEM_NOT_NETEM;
    }
    if (strcmp(r->kind, "netem") != 0) {
        wire_errf(err, cap, "netem on %s: the root qdisc is '%s', not netem", c->where, r->kind);
        return NETEM_NOT_NETEM;
    }
    if (r->opts_truncated) {
        wire_errf(err, cap, "netem on %s: the kernel's netem options exceed %zu bytes", c->where,
             sizeof r->opts);
        return -1;
    }
    char derr[200];
    if (netem_decode_options(r->opts, r->opts_len, out, seed_reported, derr, sizeof derr) < 0) {
        wire_errf(err, cap, "netem on %s: %s", c->where, derr);
        return -1;
    }
    return 0;
}

int netem_apply(int netns_fd, const char *ifname, const struct impair_spec *s, char *err, size_t cap)
{
    struct conv c;
    if (conv_open(&c, netns_fd, ifname, err, cap) < 0)
        return -1;
    int rc = -1;
    char berr[400];
    struct nl_msg *m = build_msg(c.ifindex, s, berr, sizeof berr);
    if (!m) {
        wire_errf(err, cap, "netem on %s: %s", c.where, berr);
        goto out;
    }
    struct reply *r = calloc(1, sizeof *r);
    if (!r) {
        nlmsg_free(m);
        wire_errf(err, cap, "netem on %s: out of memory", c.where);
        goto out;
    }
    if (transact(&c, m, r, err, cap) == 0) {
        if (r->error == ENOENT)
            explain_no_netem(&c, r, err, cap);
        else if (r->error)
            explain_refusal(&c, "replacing the root qdisc with netem", r, err, cap);
        else if (dump_root(&c, r, err, cap) == 0) {
            struct impair_spec got;
            bool seed_reported;
            int k = root_spec(&c, r, &got, &seed_reported, err, cap);
            char diff[200];
            if (k == NETEM_NOT_NETEM)
                wire_errf(err, cap, "netem on %s: the kernel acknowledged netem but reports another root qdisc",
                     c.where);
            else if (k == 0 && netem_spec_diff(s, &got, seed_reported, diff, sizeof diff))
                wire_errf(err, cap, "netem on %s: the kernel holds something else than was asked: %s",
                     c.where, diff);
            else if (k == 0 && s->seed_given && !seed_reported) {
                wire_errf(err, cap,
                     "netem on %s: this kernel's netem has no seed (TCA_NETEM_PRNG_SEED came with "
                     "Linux 6.6): seed %llu was not applied, so netem's random choices differ from "
                     "run to run; everything else is as asked",
                     c.where, (unsigned long long)s->seed);
                rc = NETEM_SEED_IGNORED;
            } else if (k == 0)
                rc = 0;
        }
    }
    free(r);
out:
    conv_close(&c);
    return rc;
}

int netem_probe(int netns_fd, const char *ifname, char *err, size_t cap)
{
    struct conv c;
    if (conv_open(&c, netns_fd, ifname, err, cap) < 0)
        return -1;
    int rc = -1;
    struct reply *r = calloc(1, sizeof *r);
    struct nl_msg *m = small_msg(RTM_NEWQDISC, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE,
                                 c.ifindex, "netem");
    if (!r || !m) {
        nlmsg_free(m);
        wire_errf(err, cap, "netem on %s: out of memory", c.where);
        goto out;
    }
    if (transact(&c, m, r, err, cap) < 0)
        goto out;
    if (r->error == ENOENT) {
        explain_no_netem(&c, r, err, cap);
        rc = NETEM_ABSENT;
    } else if (r->error == EINVAL || r->error == 0) {
        /* EINVAL: netem exists and refused to start without options.
         * 0: the root already was netem, and a change without options
         * changes nothing. */
        rc = 0;
    } else {
        explain_refusal(&c, "creating a netem qdisc", r, err, cap);
    }
out:
    free(r);
    conv_close(&c);
    return rc;
}

int netem_clear(int netns_fd, const char *ifname, char *err, size_t cap)
{
    struct conv c;
    if (conv_open(&c, netns_fd, ifname, err, cap) < 0)
        return -1;
    int rc = -1;
    struct reply *r = calloc(1, sizeof *r);
    struct nl_msg *m = small_msg(RTM_DELQDISC, NLM_F_REQUEST | NLM_F_ACK, c.ifindex, NULL);
    if (!r || !m) {
        nlmsg_free(m);
        wire_errf(err, cap, "netem on %s: out of memory", c.where);
        goto out;
    }
    if (transact(&c, m, r, err, cap) < 0)
        goto out;
    /* ENOENT: the root is the built-in default, which cannot be deleted. */
    if (r->error == 0 || r->error == ENOENT)
        rc = 0;
    else
        explain_refusal(&c, "deleting the root qdisc", r, err, cap);
out:
    free(r);
    conv_close(&c);
    return rc;
}

int netem_read(int netns_fd, const char *ifname, struct impair_spec *out, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    struct conv c;
    if (conv_open(&c, netns_fd, ifname, err, cap) < 0)
        return -1;
    int rc = -1;
    struct reply *r = calloc(1, sizeof *r);
    if (!r)
        wire_errf(err, cap, "netem on %s: out of memory", c.where);
    else if (dump_root(&c, r, err, cap) == 0)
        rc = root_spec(&c, r, out, NULL, err, cap);
    free(r);
    conv_close(&c);
    return rc;
}
