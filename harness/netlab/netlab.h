/* The network lab of one scenario: three network namespaces joined by two
 * veth pairs,
 *
 *   peer ns            router ns                       sut ns
 *   peer0 198.18.0.1 -- rt-peer  [impairment]  rt-sut -- sut0 198.18.0.2
 *
 * The peer namespace is the harness's end (the replay engine's sockets),
 * the SUT namespace holds the system under test, the router namespace the
 * impairment: either a kernel bridge with netem qdiscs on its two ports, or
 * nothing at all when the userspace forwarder (uimpair.h) moves the frames
 * itself. The middle box works at layer 2, so both ends share one /24 and
 * packets cross it unchanged (no TTL decrement, no NAT): the two captures
 * see the same bytes, which is what lets the run match packets across them.
 *
 * Namespaces are held only by file descriptors of the harness process (and
 * by the processes it starts inside them, which die with it: sut.h), never
 * by names under /run/netns, so they vanish when the harness exits or is
 * killed, taking veths, qdiscs and addresses with them. Segmentation and
 * checksum offloads are off on every veth, so captures show wire-sized
 * frames with valid checksums. */
#ifndef RTSP_HARNESS_NETLAB_H
#define RTSP_HARNESS_NETLAB_H

#include <stdbool.h>
#include <stddef.h>

#define NETLAB_PEER_ADDR "198.18.0.1" /* the harness's address */
#define NETLAB_SUT_ADDR "198.18.0.2"  /* the system under test's address */
#define NETLAB_PREFIX_LEN 24
#define NETLAB_PEER_IF "peer0"        /* in the peer namespace */
#define NETLAB_SUT_IF "sut0"          /* in the SUT namespace */
#define NETLAB_RT_PEER_IF "rt-peer"   /* router's end towards the peer */
#define NETLAB_RT_SUT_IF "rt-sut"     /* router's end towards the SUT */
#define NETLAB_BRIDGE_IF "br0"        /* router's bridge (kernel forwarding only) */

/* One lab. All descriptors are -1 when not open. */
struct netlab {
    int ns_orig;        /* the namespace the harness started in */
    int ns_peer;        /* the harness's end */
    int ns_router;      /* the middle box */
    int ns_sut;         /* the system under test's end */
    bool kernel_bridge; /* router forwards in the kernel (bridge) rather than in userspace */
};

/* Build the lab. kernel_bridge: the router bridges its two veths (for the
 * netem backend, or for no impairment); otherwise the router forwards
 * nothing by itself and the userspace forwarder must run. Returns 0, or -1
 * with err naming the step that failed; a half-built lab is torn down. */
int netlab_create(struct netlab *lab, bool kernel_bridge, char *err, size_t cap);

/* Close every namespace descriptor; the namespaces vanish once no process
 * is left inside them. Safe on a lab that failed to build or is already
 * destroyed (its descriptors are -1). */
void netlab_destroy(struct netlab *lab);

/* Move the calling thread into ns (setns). Returns 0 or -1 with err. */
int netlab_enter(int ns_fd, char *err, size_t cap);

/* Set a link up or down inside ns (tests take a link away under the forwarder). */
int netlab_link_set_up(int ns_fd, const char *ifname, bool up, char *err, size_t cap);

/* Turn TX checksum offload, scatter-gather, TSO, GSO and GRO off on ifname
 * in the calling thread's namespace. */
int netlab_offloads_off(const char *ifname, char *err, size_t cap);

#endif
