/* The in-process server targets' shared parts: see fuzz_net.h. */
#include "fuzz_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fixture/pattern.h"
#include "mjpeg.h"

static void die(const char *what)
{
    fprintf(stderr, "fuzz: %s: %s\n", what, strerror(errno));
    abort();
}

const char *fuzz_private_network(void)
{
    if (unshare(CLONE_NEWNET) != 0 && unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) {
        fprintf(stderr, "fuzz: no network namespace of our own (%s): UDP sessions will be refused\n",
                strerror(errno));
        return "192.0.2.1";
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) != 0)
        die("loopback flags");
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0)
        die("loopback up");
    close(fd);
    return "127.0.0.1";
}

void fuzz_media(struct media_catalog *c, size_t max_payload)
{
    char dir[] = "/tmp/rtsp-harness-fuzz-media-XXXXXX";
    if (!mkdtemp(dir))
        die("mkdtemp");
    char path[sizeof dir + 16];
    snprintf(path, sizeof path, "%s/fuzz.Mjpeg", dir);
    FILE *f = fopen(path, "wb");
    if (!f)
        die(path);
    struct pattern_options o;
    pattern_options_default(&o);
    o.width = 32;
    o.height = 24;
    o.quality = 50;
    struct pattern_encoder e = {0};
    struct mjpeg_writer w;
    char msg[256];
    mjpeg_writer_init_file(&w, f);
    if (pattern_encoder_init(&e, &o, msg, sizeof msg) != 0) {
        fprintf(stderr, "fuzz: media: %s\n", msg);
        abort();
    }
    for (uint32_t n = 1; n <= 3; n++) {
        uint8_t *jpeg;
        size_t len;
        if (pattern_encode(&e, n, &jpeg, &len, msg, sizeof msg) != 0 || mjpeg_writer_add(&w, jpeg, len) != 0) {
            fprintf(stderr, "fuzz: media: %s%s\n", msg, w.error);
            abort();
        }
        free(jpeg);
    }
    pattern_encoder_free(&e);
    if (fclose(f) != 0)
        die(path);
    if (media_load(c, dir, 25, max_payload, stderr) != 1)
        abort();
    unlink(path);
    rmdir(dir);
}

/* One connection being fed. */
struct drive {
    struct loop_io io;                        /* the client socket */
    const uint8_t *data;                      /* what to send */
    size_t len;                               /* its length */
    size_t off;                               /* sent so far */
    bool shut;                                /* our side is shut: the server sees the end */
    bool eof;                                 /* the server's side is shut */
    void (*after)(struct loop *l, void *ctx); /* the caller's after-batch work */
    bool (*idle)(void *ctx);                  /* the server holds no connection */
    void *ctx;                                /* their argument */
};

static void on_client(struct loop *l, struct loop_io *io, uint32_t events)
{
    struct drive *d = (struct drive *)((char *)io - offsetof(struct drive, io));
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        char sink[65536];
        for (;;) {
            ssize_t n = recv(io->fd, sink, sizeof sink, 0);
            if (n > 0 || (n < 0 && errno == EINTR))
                continue;
            if (n == 0 || errno != EAGAIN)
                d->eof = true;
            break;
        }
    }
    while (!d->shut && !d->eof && d->off < d->len) {
        ssize_t n = send(io->fd, d->data + d->off, d->len - d->off, MSG_NOSIGNAL);
        if (n > 0)
            d->off += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else if (n < 0 && errno == EAGAIN)
            break;
        else
            d->eof = true; /* the server closed first */
    }
    if (!d->shut && (d->eof || d->off == d->len)) {
        shutdown(io->fd, SHUT_WR);
        d->shut = true;
    }
    if (d->eof)
        loop_del(l, io);
    else
        loop_mod(l, io, EPOLLIN | (d->shut ? 0 : EPOLLOUT));
}

static void drive_after(struct loop *l, void *ctx)
{
    struct drive *d = ctx;
    if (d->after)
        d->after(l, d->ctx);
    if (d->eof && d->idle(d->ctx))
        loop_stop(l);
}

void fuzz_drive(struct loop *l, uint16_t port, const uint8_t *data, size_t len,
                void (*after)(struct loop *l, void *ctx), bool (*idle)(void *ctx), void *ctx)
{
    struct drive d = {.data = data, .len = len, .after = after, .idle = idle, .ctx = ctx};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (fd < 0 || (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS))
        die("connect to the server");
    if (loop_add(l, &d.io, fd, EPOLLIN | EPOLLOUT, on_client) != 0)
        die("epoll");
    loop_set_after_hook(l, drive_after, &d);
    if (loop_run(l) != 0)
        die("event loop");
    loop_set_after_hook(l, after, ctx);
    if (!d.eof)
        loop_del(l, &d.io);
    close(fd);
}

size_t fuzz_split_connections(const uint8_t *data, size_t size, const uint8_t **starts, size_t *lens,
                              size_t max)
{
    static const char sep[] = FUZZ_CONN_SEPARATOR;
    const size_t sep_len = sizeof sep - 1;
    size_t n = 0;
    while (n + 1 < max) {
        const uint8_t *hit = memmem(data, size, sep, sep_len);
        if (!hit)
            break;
        starts[n] = data;
        lens[n++] = (size_t)(hit - data);
        size -= (size_t)(hit - data) + sep_len;
        data = hit + sep_len;
    }
    starts[n] = data;
    lens[n++] = size;
    return n;
}
