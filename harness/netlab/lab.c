/* The network lab: three anonymous network namespaces and two veth pairs,
 * built through rtnetlink (libnl-route-3) with offloads turned off through
 * the ethtool ioctl. See netlab.h for the topology and why nothing is named
 * under /run/netns. */
#include "netlab.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>


int netlab_enter(int ns_fd, char *err, size_t cap)
{
    if (setns(ns_fd, CLONE_NEWNET) != 0)
        return wire_errf(err, cap, "setns into network namespace (fd %d): %s", ns_fd, strerror(errno));
    return 0;
}

/* A new anonymous namespace, returned as a descriptor; the calling thread
 * stays where it was. */
static int new_namespace(int ns_orig, char *err, size_t cap)
{
    if (unshare(CLONE_NEWNET) != 0)
        return wire_errf(err, cap, "unshare(CLONE_NEWNET): %s (the lab needs root or CAP_SYS_ADMIN)",
                    strerror(errno));
    int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    int saved = errno;
    if (setns(ns_orig, CLONE_NEWNET) != 0) {
        if (fd >= 0)
            close(fd);
        return wire_errf(err, cap, "setns back to the harness's namespace: %s", strerror(errno));
    }
    if (fd < 0)
        return wire_errf(err, cap, "open /proc/thread-self/ns/net: %s", strerror(saved));
    return fd;
}

static struct nl_sock *nl_open(char *err, size_t cap)
{
    struct nl_sock *sk = nl_socket_alloc();
    if (!sk) {
        wire_errf(err, cap, "netlink: out of memory");
        return NULL;
    }
    int rc = nl_connect(sk, NETLINK_ROUTE);
    if (rc < 0) {
        wire_errf(err, cap, "netlink connect: %s", nl_geterror(rc));
        nl_socket_free(sk);
        return NULL;
    }
    return sk;
}

static int link_up(struct nl_sock *sk, const char *ifname, bool up, char *err, size_t cap)
{
    struct rtnl_link *link = NULL;
    int rc = rtnl_link_get_kernel(sk, 0, ifname, &link);
    if (rc < 0)
        return wire_errf(err, cap, "link %s: %s", ifname, nl_geterror(rc));
    struct rtnl_link *change = rtnl_link_alloc();
    if (!change) {
        rtnl_link_put(link);
        return wire_errf(err, cap, "link %s: out of memory", ifname);
    }
    if (up)
        rtnl_link_set_flags(change, IFF_UP);
    else
        rtnl_link_unset_flags(change, IFF_UP);
    rc = rtnl_link_change(sk, link, change, 0);
    rtnl_link_put(change);
    rtnl_link_put(link);
    if (rc < 0)
        return wire_errf(err, cap, "link %s %s: %s", ifname, up ? "up" : "down", nl_geterror(rc));
    return 0;
}

static int add_address(struct nl_sock *sk, const char *ifname, const char *cidr, char *err, size_t cap)
{
    int ifindex = (int)if_nametoindex(ifname);
    if (ifindex == 0)
        return wire_errf(err, cap, "address %s: no interface %s", cidr, ifname);
    struct nl_addr *local = NULL;
    int rc = nl_addr_parse(cidr, AF_INET, &local);
    if (rc < 0)
        return wire_errf(err, cap, "address %s: %s", cidr, nl_geterror(rc));
    struct rtnl_addr *addr = rtnl_addr_alloc();
    if (!addr) {
        nl_addr_put(local);
        return wire_errf(err, cap, "address %s: out of memory", cidr);
    }
    rtnl_addr_set_ifindex(addr, ifindex);
    rtnl_addr_set_local(addr, local);
    rc = rtnl_addr_add(sk, addr, 0);
    rtnl_addr_put(addr);
    nl_addr_put(local);
    if (rc < 0)
        return wire_errf(err, cap, "address %s on %s: %s", cidr, ifname, nl_geterror(rc));
    return 0;
}

/* Write a sysctl of the calling thread's namespace (/proc/sys/net is
 * resolved against the opener's namespace). */
static int write_sysctl(const char *path, const char *value, char *err, size_t cap)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return wire_errf(err, cap, "open %s: %s", path, strerror(errno));
    ssize_t n = write(fd, value, strlen(value));
    int saved = errno;
    close(fd);
    if (n != (ssize_t)strlen(value))
        return wire_errf(err, cap, "write %s: %s", path, n < 0 ? strerror(saved) : "short write");
    return 0;
}

int netlab_offloads_off(const char *ifname, char *err, size_t cap)
{
    static const struct {
        uint32_t cmd;     /* ETHTOOL_S* */
        const char *name; /* for messages */
    } features[] = {
        {ETHTOOL_STXCSUM, "tx-checksumming"},
        {ETHTOOL_SSG, "scatter-gather"},
        {ETHTOOL_STSO, "tcp-segmentation-offload"},
        {ETHTOOL_SGSO, "generic-segmentation-offload"},
        {ETHTOOL_SGRO, "generic-receive-offload"},
    };
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return wire_errf(err, cap, "ethtool socket: %s", strerror(errno));
    for (size_t i = 0; i < sizeof features / sizeof features[0]; i++) {
        struct ethtool_value ev = {.cmd = features[i].cmd, .data = 0};
        struct ifreq ifr;
        memset(&ifr, 0, sizeof ifr);
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
        ifr.ifr_data = (char *)&ev;
        if (ioctl(fd, SIOCETHTOOL, &ifr) != 0) {
            int saved = errno;
            close(fd);
            return wire_errf(err, cap, "%s: turning %s off: %s", ifname, features[i].name, strerror(saved));
        }
    }
    close(fd);
    return 0;
}

/* In the router namespace: a veth pair whose far end goes to ns_far. */
static int make_veth(struct nl_sock *sk, const char *name, const char *far_name, int ns_far, char *err,
                     size_t cap)
{
    struct rtnl_link *link = rtnl_link_veth_alloc();
    if (!link)
        return wire_errf(err, cap, "veth %s: out of memory", name);
    rtnl_link_set_name(link, name);
    struct rtnl_link *peer = rtnl_link_veth_get_peer(link);
    rtnl_link_set_name(peer, far_name);
    rtnl_link_set_ns_fd(peer, ns_far);
    int rc = rtnl_link_add(sk, link, NLM_F_CREATE | NLM_F_EXCL);
    rtnl_link_put(peer);
    rtnl_link_veth_release(link);
    if (rc < 0)
        return wire_errf(err, cap, "veth %s/%s: %s", name, far_name, nl_geterror(rc));
    return 0;
}

/* Configure one namespace's side: loopback up, IPv6 off (no router
 * solicitations or MLD reports in the captures), offloads off, address,
 * link up. The calling thread is inside the namespace. */
static int setup_end(struct nl_sock *sk, const char *ifname, const char *cidr, char *err, size_t cap)
{
    if (write_sysctl("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1", err, cap) != 0 ||
        write_sysctl("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1", err, cap) != 0)
        return -1;
    if (link_up(sk, "lo", true, err, cap) != 0)
        return -1;
    if (netlab_offloads_off(ifname, err, cap) != 0)
        return -1;
    if (cidr && add_address(sk, ifname, cidr, err, cap) != 0)
        return -1;
    return link_up(sk, ifname, true, err, cap);
}

static int setup_router(bool kernel_bridge, char *err, size_t cap)
{
    struct nl_sock *sk = nl_open(err, cap);
    if (!sk)
        return -1;
    int rc = -1;
    if (write_sysctl("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1", err, cap) != 0 ||
        write_sysctl("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1", err, cap) != 0)
        goto out;
    if (netlab_offloads_off(NETLAB_RT_PEER_IF, err, cap) != 0 ||
        netlab_offloads_off(NETLAB_RT_SUT_IF, err, cap) != 0)
        goto out;
    if (kernel_bridge) {
        int brc = rtnl_link_bridge_add(sk, NETLAB_BRIDGE_IF);
        if (brc < 0) {
            wire_errf(err, cap, "bridge %s: %s", NETLAB_BRIDGE_IF, nl_geterror(brc));
            goto out;
        }
        int br = (int)if_nametoindex(NETLAB_BRIDGE_IF);
        const char *ports[2] = {NETLAB_RT_PEER_IF, NETLAB_RT_SUT_IF};
        for (int i = 0; i < 2; i++) {
            int idx = (int)if_nametoindex(ports[i]);
            int erc = rtnl_link_enslave_ifindex(sk, br, idx);
            if (erc < 0) {
                wire_errf(err, cap, "bridge %s: adding %s: %s", NETLAB_BRIDGE_IF, ports[i], nl_geterror(erc));
                goto out;
            }
        }
        if (link_up(sk, NETLAB_BRIDGE_IF, true, err, cap) != 0)
            goto out;
    }
    if (link_up(sk, NETLAB_RT_PEER_IF, true, err, cap) != 0 ||
        link_up(sk, NETLAB_RT_SUT_IF, true, err, cap) != 0)
        goto out;
    rc = 0;
out:
    nl_socket_free(sk);
    return rc;
}

/* Run fn inside ns, then come back to lab->ns_orig. */
static int in_namespace(const struct netlab *lab, int ns, int (*fn)(void *arg, char *err, size_t cap),
                        void *arg, char *err, size_t cap)
{
    if (netlab_enter(ns, err, cap) != 0)
        return -1;
    int rc = fn(arg, err, cap);
    if (setns(lab->ns_orig, CLONE_NEWNET) != 0) {
        /* The thread would stay in a lab namespace: nothing sensible can
         * follow, and the process must not go on creating sockets there. */
        fprintf(stderr, "rtsp-harness: cannot return to the original network namespace: %s\n",
                strerror(errno));
        _exit(3);
    }
    return rc;
}

struct end_args {
    const char *ifname; /* the veth end */
    const char *cidr;   /* its address */
};

static int do_end(void *arg, char *err, size_t cap)
{
    const struct end_args *a = arg;
    struct nl_sock *sk = nl_open(err, cap);
    if (!sk)
        return -1;
    int rc = setup_end(sk, a->ifname, a->cidr, err, cap);
    nl_socket_free(sk);
    return rc;
}

struct router_args {
    const struct netlab *lab; /* for the far namespaces */
    bool kernel_bridge;       /* bridge the two veths */
};

static int do_router(void *arg, char *err, size_t cap)
{
    const struct router_args *a = arg;
    struct nl_sock *sk = nl_open(err, cap);
    if (!sk)
        return -1;
    int rc = make_veth(sk, NETLAB_RT_PEER_IF, NETLAB_PEER_IF, a->lab->ns_peer, err, cap);
    if (rc == 0)
        rc = make_veth(sk, NETLAB_RT_SUT_IF, NETLAB_SUT_IF, a->lab->ns_sut, err, cap);
    nl_socket_free(sk);
    if (rc == 0)
        rc = setup_router(a->kernel_bridge, err, cap);
    return rc;
}

int netlab_create(struct netlab *lab, bool kernel_bridge, char *err, size_t cap)
{
    lab->ns_orig = lab->ns_peer = lab->ns_router = lab->ns_sut = -1;
    lab->kernel_bridge = kernel_bridge;
    lab->ns_orig = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (lab->ns_orig < 0)
        return wire_errf(err, cap, "open /proc/thread-self/ns/net: %s", strerror(errno));
    char why[200];
    if ((lab->ns_peer = new_namespace(lab->ns_orig, why, sizeof why)) < 0 ||
        (lab->ns_router = new_namespace(lab->ns_orig, why, sizeof why)) < 0 ||
        (lab->ns_sut = new_namespace(lab->ns_orig, why, sizeof why)) < 0) {
        wire_errf(err, cap, "network lab: %s", why);
        netlab_destroy(lab);
        return -1;
    }
    struct router_args ra = {lab, kernel_bridge};
    struct end_args peer = {NETLAB_PEER_IF, NETLAB_PEER_ADDR "/24"};
    struct end_args sut = {NETLAB_SUT_IF, NETLAB_SUT_ADDR "/24"};
    if (in_namespace(lab, lab->ns_router, do_router, &ra, why, sizeof why) != 0 ||
        in_namespace(lab, lab->ns_peer, do_end, &peer, why, sizeof why) != 0 ||
        in_namespace(lab, lab->ns_sut, do_end, &sut, why, sizeof why) != 0) {
        wire_errf(err, cap, "network lab: %s", why);
        netlab_destroy(lab);
        return -1;
    }
    return 0;
}

struct updown_args {
    const char *ifname; /* link */
    bool up;            /* wanted state */
};

static int do_updown(void *arg, char *err, size_t cap)
{
    const struct updown_args *a = arg;
    struct nl_sock *sk = nl_open(err, cap);
    if (!sk)
        return -1;
    int rc = link_up(sk, a->ifname, a->up, err, cap);
    nl_socket_free(sk);
    return rc;
}

int netlab_link_set_up(int ns_fd, const char *ifname, bool up, char *err, size_t cap)
{
    struct netlab here = {.ns_orig = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)};
    if (here.ns_orig < 0)
        return wire_errf(err, cap, "open /proc/thread-self/ns/net: %s", strerror(errno));
    struct updown_args a = {ifname, up};
    int rc = in_namespace(&here, ns_fd, do_updown, &a, err, cap);
    close(here.ns_orig);
    return rc;
}

void netlab_destroy(struct netlab *lab)
{
    int *fds[] = {&lab->ns_peer, &lab->ns_router, &lab->ns_sut, &lab->ns_orig};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
        *fds[i] = -1;
    }
}
