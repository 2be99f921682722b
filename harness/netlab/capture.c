/* Live capture threads (see capture.h). The thread enters the namespace
 * itself (setns is per thread), activates libpcap there (the AF_PACKET
 * socket stays bound to that namespace), signals the starter, then polls
 * the capture descriptor and an eventfd that asks it to stop. */
#include "capture.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define CAPTURE_BUFFER_BYTES (16 << 20) /* kernel ring: a second of a fast stream */

struct capture {
    pthread_t thread;         /* the capture loop */
    int ns_fd;                /* namespace to capture in, -1 own */
    char ifname[64];          /* interface */
    char path[1024];          /* output file */
    char filter[256];         /* BPF expression, "" none */
    uint64_t budget;          /* bytes written whole; 0 no limit */
    int stop_fd;              /* eventfd: written to stop */
    pthread_mutex_t lock;     /* guards the start handshake */
    pthread_cond_t started;   /* signalled once active or failed */
    int state;                /* 0 starting, 1 active, -1 failed */
    char err[640];            /* why it failed */
    struct capture_stats st;  /* counters */
};

/* pcap_dispatch's user pointer: the dumper first, then the capture. */
struct dispatch_ctx {
    pcap_dumper_t *dumper;  /* output */
    struct capture *c;      /* counters */
};

static void on_frame_ctx(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
    struct dispatch_ctx *d = (struct dispatch_ctx *)user;
    struct capture_stats *st = &d->c->st;
    uint64_t budget = d->c->budget;
    if (budget && st->bytes + h->caplen > budget) {
        if (!st->budget_frame)
            st->budget_frame = st->frames + st->unwritten + 1;
        if (st->bytes + CAPTURE_CUT_SNAP > budget + budget / 4) {
            st->unwritten++;
            return;
        }
        if (h->caplen > CAPTURE_CUT_SNAP) {
            struct pcap_pkthdr cut = *h;
            cut.caplen = CAPTURE_CUT_SNAP;
            pcap_dump((u_char *)d->dumper, &cut, bytes);
            st->frames++;
            st->cut++;
            st->bytes += CAPTURE_CUT_SNAP;
            return;
        }
    }
    pcap_dump((u_char *)d->dumper, h, bytes);
    st->frames++;
    st->bytes += h->caplen;
}

static void set_state(struct capture *c, int state)
{
    pthread_mutex_lock(&c->lock);
    c->state = state;
    pthread_cond_signal(&c->started);
    pthread_mutex_unlock(&c->lock);
}

static void *capture_main(void *arg)
{
    struct capture *c = arg;
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    if (c->ns_fd >= 0 && setns(c->ns_fd, CLONE_NEWNET) != 0) {
        snprintf(c->err, sizeof c->err, "capture on %s: setns: %s", c->ifname, strerror(errno));
        set_state(c, -1);
        return NULL;
    }
    pcap_t *p = pcap_create(c->ifname, ebuf);
    if (!p) {
        snprintf(c->err, sizeof c->err, "capture on %s: %s", c->ifname, ebuf);
        set_state(c, -1);
        return NULL;
    }
    pcap_set_snaplen(p, 262144);
    pcap_set_promisc(p, 1);
    pcap_set_immediate_mode(p, 1);
    pcap_set_buffer_size(p, CAPTURE_BUFFER_BYTES);
    pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
    int rc = pcap_activate(p);
    if (rc < 0) {
        snprintf(c->err, sizeof c->err, "capture on %s: %s", c->ifname, pcap_geterr(p));
        pcap_close(p);
        set_state(c, -1);
        return NULL;
    }
    if (c->filter[0]) {
        struct bpf_program prog;
        if (pcap_compile(p, &prog, c->filter, 1, PCAP_NETMASK_UNKNOWN) != 0 ||
            pcap_setfilter(p, &prog) != 0) {
            snprintf(c->err, sizeof c->err, "capture on %s: filter '%s': %s", c->ifname, c->filter,
                     pcap_geterr(p));
            pcap_close(p);
            set_state(c, -1);
            return NULL;
        }
        pcap_freecode(&prog);
    }
    pcap_dumper_t *dumper = pcap_dump_open(p, c->path);
    if (!dumper) {
        snprintf(c->err, sizeof c->err, "capture on %s: %s", c->ifname, pcap_geterr(p));
        pcap_close(p);
        set_state(c, -1);
        return NULL;
    }
    if (pcap_setnonblock(p, 1, ebuf) != 0) {
        snprintf(c->err, sizeof c->err, "capture on %s: %s", c->ifname, ebuf);
        pcap_dump_close(dumper);
        pcap_close(p);
        set_state(c, -1);
        return NULL;
    }
    set_state(c, 1);

    struct dispatch_ctx d = {dumper, c};
    struct pollfd fds[2] = {{.fd = pcap_get_selectable_fd(p), .events = POLLIN},
                            {.fd = c->stop_fd, .events = POLLIN}};
    for (;;) {
        int n = poll(fds, 2, 200);
        if (n < 0 && errno != EINTR)
            break;
        while (pcap_dispatch(p, 256, on_frame_ctx, (u_char *)&d) > 0)
            ;
        if (fds[1].revents & POLLIN)
            break;
    }
    /* Frames the kernel still holds were sent before the stop: keep them. */
    while (pcap_dispatch(p, 256, on_frame_ctx, (u_char *)&d) > 0)
        ;
    struct pcap_stat ps;
    if (pcap_stats(p, &ps) == 0) {
        c->st.kernel_dropped = ps.ps_drop;
        c->st.if_dropped = ps.ps_ifdrop;
    }
    pcap_dump_close(dumper);
    pcap_close(p);
    return NULL;
}

int capture_start(int ns_fd, const char *ifname, const char *filter, const char *path, uint64_t budget,
                  struct capture **out, char *err, size_t cap)
{
    *out = NULL;
    struct capture *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, cap, "capture on %s: out of memory", ifname);
        return -1;
    }
    c->ns_fd = ns_fd;
    c->budget = budget;
    if (snprintf(c->ifname, sizeof c->ifname, "%s", ifname) >= (int)sizeof c->ifname ||
        snprintf(c->path, sizeof c->path, "%s", path) >= (int)sizeof c->path ||
        snprintf(c->filter, sizeof c->filter, "%s", filter ? filter : "") >= (int)sizeof c->filter) {
        snprintf(err, cap, "capture on %s: interface, path or filter too long", ifname);
        free(c);
        return -1;
    }
    c->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->stop_fd < 0) {
        snprintf(err, cap, "capture on %s: eventfd: %s", ifname, strerror(errno));
        free(c);
        return -1;
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->started, NULL);
    int rc = pthread_create(&c->thread, NULL, capture_main, c);
    if (rc != 0) {
        snprintf(err, cap, "capture on %s: thread: %s", ifname, strerror(rc));
        close(c->stop_fd);
        free(c);
        return -1;
    }
    pthread_mutex_lock(&c->lock);
    while (c->state == 0)
        pthread_cond_wait(&c->started, &c->lock);
    int state = c->state;
    pthread_mutex_unlock(&c->lock);
    if (state < 0) {
        pthread_join(c->thread, NULL);
        snprintf(err, cap, "%s", c->err);
        close(c->stop_fd);
        pthread_mutex_destroy(&c->lock);
        pthread_cond_destroy(&c->started);
        free(c);
        return -1;
    }
    *out = c;
    return 0;
}

void capture_stop(struct capture *c, struct capture_stats *stats)
{
    if (!c)
        return;
    uint64_t one = 1;
    if (write(c->stop_fd, &one, sizeof one) != (ssize_t)sizeof one)
        pthread_cancel(c->thread);
    pthread_join(c->thread, NULL);
    if (stats)
        *stats = c->st;
    close(c->stop_fd);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->started);
    free(c);
}
