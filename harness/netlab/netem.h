/* The kernel impairment backend: a netem qdisc as the root qdisc of an
 * interface (one of the router's veths), configured from a struct
 * impair_spec through rtnetlink with libnl-route-3's message helpers.
 *
 * The whole RTM_NEWQDISC message is built here, attribute by attribute, the
 * way iproute2's tc does (struct tc_netem_qopt followed by TCA_NETEM_*
 * attributes inside TCA_OPTIONS), because libnl's rtnl_netem_* setters
 * cover only delay, loss, duplication, corruption, reordering and the
 * distribution: Gilbert-Elliott and 4-state loss, rate, slots, ECN and the
 * seed are raw attributes. Every attribute is sent every time, so applying
 * a new spec to an interface that already carries netem (a scenario phase)
 * leaves nothing of the previous spec behind: netem keeps whatever a change
 * request does not mention.
 *
 * Each call names a network namespace by descriptor (an open
 * /proc/PID/ns/net or /run/netns/NAME; -1 for the calling thread's own).
 * The netlink socket is opened inside that namespace and the calling
 * thread is back in its own namespace before the call returns.
 *
 * Errors are written to err (truncated to cap) and name the interface, the
 * namespace and the netlink error, including the kernel's extended ack
 * text when it sends one. */
#ifndef RTSP_HARNESS_NETEM_H
#define RTSP_HARNESS_NETEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "impair.h"

/* netem_apply's answer when netem was configured as asked except for the
 * seed, which this kernel does not know (TCA_NETEM_PRNG_SEED came with
 * Linux 6.6): random choices then differ from run to run. err says so. */
#define NETEM_SEED_IGNORED 1

/* netem_probe's answer when the kernel has no sch_netem. */
#define NETEM_ABSENT 1

/* netem_read's answer when the root qdisc is not netem (err names it). */
#define NETEM_NOT_NETEM 1

/* Make netem with spec s the root qdisc of ifname (replacing what is there;
 * changing it in place when it already is netem). After the kernel
 * acknowledges, the qdisc is read back and compared with s, so a kernel
 * that silently ignores an attribute is caught. Returns 0, NETEM_SEED_IGNORED
 * (everything but the seed applied), or -1 with err (the spec is not
 * possible, e.g. reorder without delay; the distribution table is missing;
 * the kernel has no sch_netem; netlink refused; the kernel holds something
 * else than was asked). */
int netem_apply(int netns_fd, const char *ifname, const struct impair_spec *s, char *err,
                size_t cap);

/* Whether netem can be configured on ifname: 0 yes, NETEM_ABSENT when the
 * kernel has no sch_netem (err: "this kernel has no sch_netem (tc-netem);
 * ..."), -1 on other errors (no such interface, no CAP_NET_ADMIN). It asks
 * the kernel to create a netem qdisc without options, which a kernel with
 * netem refuses (EINVAL) before anything changes and a kernel without it
 * refuses with ENOENT; the interface's qdiscs are left as they were. */
int netem_probe(int netns_fd, const char *ifname, char *err, size_t cap);

/* Delete the root qdisc of ifname, giving it back its default one. 0 also
 * when it already had the default. -1 with err otherwise. */
int netem_clear(int netns_fd, const char *ifname, char *err, size_t cap);

/* Read the root qdisc of ifname back into *out (zeroed first). 0 when it is
 * netem, NETEM_NOT_NETEM when it is another kind, -1 on errors. netem does
 * not report its distribution table, so out->dist is left uniform and
 * dist_given false; out->seed_given is true only when the kernel reports a
 * seed (Linux 6.6 and later, which always report one). */
int netem_read(int netns_fd, const char *ifname, struct impair_spec *out, char *err, size_t cap);

/* The pieces below are the seams the unit tests use; netem_apply and
 * netem_read are built from them. */

/* Build the complete RTM_NEWQDISC request (netlink header, tcmsg, TCA_KIND,
 * TCA_OPTIONS) that makes spec s the root netem of interface ifindex, into
 * buf. *len receives its length (sequence number and port are 0; the
 * sender fills them). The distribution table for normal, pareto and
 * paretonormal is read from iproute2's tc library directory ($TC_LIB_DIR
 * when set, else /usr/lib/x86_64-linux-gnu/tc, /usr/lib/tc, /usr/lib64/tc);
 * for uniform jitter a uniform table is generated. Returns 0, or -1 with
 * err (an impossible spec, a missing or malformed table, buf too small). */
int netem_build_request(int ifindex, const struct impair_spec *s, uint8_t *buf, size_t cap,
                        size_t *len, char *err, size_t errcap);

/* Decode the payload of a netem TCA_OPTIONS attribute (struct
 * tc_netem_qopt then TCA_NETEM_* attributes, as the kernel dumps it or as
 * netem_build_request writes it) into *out (zeroed first). *seed_reported
 * (may be NULL) tells whether a seed attribute was present. Returns 0, or
 * -1 with err naming the malformed attribute and its offset. */
int netem_decode_options(const uint8_t *opts, size_t len, struct impair_spec *out,
                         bool *seed_reported, char *err, size_t cap);

/* Compare what was asked with what netem reports, the way netem means it:
 * limit 0 is netem's 1000, reorder gap 0 is gap 1, slot max 0 is slot min,
 * the distribution is not compared (netem does not report it), the seed
 * only when compare_seed. Returns 0 when equal, or 1 with buf naming the
 * first field that differs and both values. */
int netem_spec_diff(const struct impair_spec *want, const struct impair_spec *got,
                    bool compare_seed, char *buf, size_t cap);

#endif
