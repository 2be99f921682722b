/* A small toolkit over the network lab (netlab.h) for programs that drive
 * the userspace impairment forwarder (harness/netlab/uimpair.c) in real
 * namespaces: building and tearing down the lab, UDP sockets at either end,
 * pacing, and reading the forwarder's decision log back. Used by
 * tests/unit/test_uimpair.c and bench/impair_delay.c, one program each, so
 * everything here is static. */
#ifndef RTSP_HARNESS_UIMPAIR_LAB_H
#define RTSP_HARNESS_UIMPAIR_LAB_H

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "netlab/netlab.h"
#include "netlab/uimpair.h"

/* ---- lab toolkit ----------------------------------------------------------- */

static struct netlab lab; /* one lab for the whole program */

static inline int64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Sleep until an absolute CLOCK_REALTIME time (pacing a sender). */
static inline void sleep_until_ns(int64_t t)
{
    struct timespec ts = {(time_t)(t / 1000000000), (long)(t % 1000000000)};
    while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* Build the lab without a kernel bridge: only the forwarder moves frames. */
static inline int lab_up(void)
{
    char err[256];
    if (netlab_create(&lab, false, err, sizeof err) != 0) {
        fprintf(stderr, "lab: %s\n", err);
        return -1;
    }
    return 0;
}

/* Run in namespace ns: enter, call fn, come back. */
static inline int in_ns(int ns, int (*fn)(void *), void *arg)
{
    char err[256];
    if (netlab_enter(ns, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    int rc = fn(arg);
    if (setns(lab.ns_orig, CLONE_NEWNET) != 0) {
        perror("setns back");
        exit(2);
    }
    return rc;
}

/* A UDP socket bound to addr:port, made in the current namespace. */
struct udp_args {
    const char *addr; /* local address */
    uint16_t port;    /* local port */
    int fd;           /* result */
};

static inline int make_udp(void *arg)
{
    struct udp_args *a = arg;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1, size = 16 << 20;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size);
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(a->port)};
    inet_pton(AF_INET, a->addr, &sa.sin_addr);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    a->fd = fd;
    return 0;
}

/* A UDP socket in the peer (to_sut_side false) or SUT namespace. */
static inline int udp_socket(bool sut_side, uint16_t port)
{
    struct udp_args a = {sut_side ? NETLAB_SUT_ADDR : NETLAB_PEER_ADDR, port, -1};
    if (in_ns(sut_side ? lab.ns_sut : lab.ns_peer, make_udp, &a) != 0) {
        fprintf(stderr, "udp socket %s:%u: %s\n", a.addr, port, strerror(errno));
        return -1;
    }
    return a.fd;
}

static inline int send_to(int fd, bool to_sut, uint16_t port, const void *buf, size_t len)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, to_sut ? NETLAB_SUT_ADDR : NETLAB_PEER_ADDR, &sa.sin_addr);
    return sendto(fd, buf, len, 0, (struct sockaddr *)&sa, sizeof sa) == (ssize_t)len ? 0 : -1;
}

/* Datagram payloads: seq (4 bytes), the sender's CLOCK_REALTIME (8 bytes),
 * then bytes that depend on every bit of seq (a multiplicative hash) and on
 * the position, so that a datagram whose seq field took a bit flip cannot
 * pass for another one. */
static inline void fill_payload(uint8_t *p, size_t len, uint32_t seq, int64_t stamp_ns)
{
    uint32_t x = seq * 2654435761u;
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)((x >> (8 * (i & 3))) + i * 7);
    if (len >= 4) {
        p[0] = (uint8_t)(seq >> 24);
        p[1] = (uint8_t)(seq >> 16);
        p[2] = (uint8_t)(seq >> 8);
        p[3] = (uint8_t)seq;
    }
    if (len >= 12)
        for (int i = 0; i < 8; i++)
            p[4 + i] = (uint8_t)((uint64_t)stamp_ns >> (56 - 8 * i));
}

static inline uint32_t payload_seq(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline int64_t payload_stamp(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[4 + i];
    return (int64_t)v;
}

/* One received datagram. */
struct rx {
    int64_t rx_ns;      /* kernel receive time (SO_TIMESTAMPNS, CLOCK_REALTIME) */
    uint8_t tos;        /* IP TOS byte */
    uint16_t len;       /* payload length */
    uint8_t data[256];  /* the first bytes of the payload */
};

/* Read datagrams until none arrives for quiet_ms; returns how many. */
static inline size_t drain(int fd, struct rx *out, size_t cap, int quiet_ms)
{
    size_t n = 0;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, quiet_ms) <= 0)
            return n;
        uint8_t buf[2048];
        union {
            char b[256];
            struct cmsghdr align;
        } ctl;
        struct iovec iov = {buf, sizeof buf};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof ctl.b};
        ssize_t len = recvmsg(fd, &mh, MSG_DONTWAIT);
        if (len < 0)
            continue;
        if (n >= cap)
            continue;
        struct rx *r = &out[n++];
        memset(r, 0, sizeof *r);
        r->len = (uint16_t)len;
        memcpy(r->data, buf, (size_t)len < sizeof r->data ? (size_t)len : sizeof r->data);
        r->rx_ns = realtime_ns();
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
                struct timespec ts;
                memcpy(&ts, CMSG_DATA(c), sizeof ts);
                r->rx_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
            } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) {
                r->tos = *(const uint8_t *)CMSG_DATA(c);
            }
        }
    }
}

/* Start a forwarder on the lab's router with specs in netem syntax. */
static inline struct uimpair *forwarder(const char *to_sut, const char *to_peer, const char *log_path)
{
    struct uimpair_opts o;
    memset(&o, 0, sizeof o);
    struct wire_error werr;
    const char *text[2] = {to_sut, to_peer};
    for (int i = 0; i < 2; i++) {
        if (impair_parse(text[i], strlen(text[i]), &o.spec[i], &werr) != 0) {
            fprintf(stderr, "spec '%s': offset %zu: %s\n", text[i], werr.offset, werr.reason);
            return NULL;
        }
    }
    o.router_netns_fd = lab.ns_router;
    o.peer_ifname = NETLAB_RT_PEER_IF;
    o.sut_ifname = NETLAB_RT_SUT_IF;
    o.log_path = log_path;
    o.t0_ns = realtime_ns();
    struct uimpair *u;
    char err[256];
    if (uimpair_start(&o, &u, err, sizeof err) != 0) {
        fprintf(stderr, "uimpair_start: %s\n", err);
        return NULL;
    }
    return u;
}

/* One decision line of the log. */
struct log_line {
    long long t_us;      /* receive time since t0 */
    int dir;             /* UIMPAIR_TO_SUT or UIMPAIR_TO_PEER */
    unsigned flow;       /* flow ordinal */
    unsigned long long idx; /* index in the flow */
    char proto[8];       /* udp, tcp, arp, other */
    char src[48];        /* address[:port] */
    char dst[48];
    unsigned len;        /* frame length */
    char ssrc[16];       /* RTP SSRC or - */
    char seq[8];         /* RTP sequence number or - */
    char action[40];     /* pass, drop, ... */
    long long delay_us;  /* scheduled delay, -1 for "-" */
};

/* Read the decision lines of a log (comments skipped); returns the count
 * or -1 when a line does not have the 12 columns. */
static inline long read_log(const char *path, struct log_line *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[512];
    long n = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        struct log_line l;
        char dir[16], delay[24];
        if (sscanf(line, "%lld\t%15s\t%u\t%llu\t%7s\t%47s\t%47s\t%u\t%15s\t%7s\t%39s\t%23s", &l.t_us, dir,
                   &l.flow, &l.idx, l.proto, l.src, l.dst, &l.len, l.ssrc, l.seq, l.action, delay) != 12) {
            fprintf(stderr, "log %s: bad line: %s", path, line);
            fclose(f);
            return -1;
        }
        l.dir = strcmp(dir, "to-sut") == 0 ? UIMPAIR_TO_SUT : UIMPAIR_TO_PEER;
        l.delay_us = strcmp(delay, "-") == 0 ? -1 : atoll(delay);
        if ((size_t)n < cap)
            out[n] = l;
        n++;
    }
    fclose(f);
    return n;
}

#endif
