/* The live view: see http.h. A deliberately small HTTP/1.0 server: GET
 * only, one request per connection, then either the index page or an
 * endless multipart/x-mixed-replace stream of the stream's JPEG frames. */
#include "http.h"
#include "outbuf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define HTTP_REQUEST_MAX 8192
#define HTTP_BOUNDARY "rtspharnessframe"
#define HTTP_BACKLOG_FRAMES 2 /* unsent frames before a slow browser loses frames */
#define HTTP_OUT_LIMIT_BYTES (64u << 20) /* hard cap on one client's queue (frames are skipped long before) */

struct http_client;

struct http_view {
    struct loop *loop;                   /* the RTSP thread's loop */
    const struct media_catalog *media;   /* streams */
    struct loop_io listen_io;            /* listener */
    struct http_client *clients;         /* connected browsers */
    unsigned nclients;                   /* their number */
    unsigned max_clients;                /* more are refused */
};

struct http_client {
    struct loop_io io;                   /* the socket */
    struct http_view *view;              /* owner */
    char req[HTTP_REQUEST_MAX];          /* request being read */
    size_t req_len;                      /* bytes in req */
    struct outbuf out;                   /* to send */
    const struct media_stream *stream;   /* streaming this, or NULL */
    uint64_t frame;                      /* next frame (counts loops) */
    uint64_t start_ns;                   /* when frame 0 was due */
    uint64_t skipped;                    /* frames not queued: browser too slow */
    bool close_when_sent;                /* index page or error: close after the reply */
    struct loop_timer due;               /* next frame */
    struct http_client *prev, *next;     /* list */
};

static void client_close(struct http_client *c)
{
    struct http_view *v = c->view;
    loop_timer_stop(v->loop, &c->due);
    loop_del(v->loop, &c->io);
    close(c->io.fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        v->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    v->nclients--;
    outbuf_free(&c->out);
    free(c);
}

/* Send what can go now. Returns false when the client was closed. */
static bool client_flush(struct http_client *c)
{
    int rc = outbuf_send(&c->out, c->io.fd);
    if (rc < 0 || (rc == 1 && c->close_when_sent)) {
        client_close(c);
        return false;
    }
    loop_mod(c->view->loop, &c->io, EPOLLIN | (rc == 0 ? EPOLLOUT : 0));
    return true;
}

static bool client_write(struct http_client *c, const void *data, size_t len)
{
    return outbuf_append(&c->out, data, len, HTTP_OUT_LIMIT_BYTES);
}

static void respond_simple(struct http_client *c, const char *status, const char *type,
                           const char *body)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-cache\r\nConnection: close\r\n\r\n",
                     status, type, strlen(body));
    c->close_when_sent = true;
    if (!client_write(c, head, (size_t)n) || !client_write(c, body, strlen(body))) {
        client_close(c);
        return;
    }
    client_flush(c);
}

/* Names go into HTML and URLs: escape what could break either. */
static void html_escape(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (; *in && o + 7 < cap; in++) {
        const char *rep = NULL;
        switch (*in) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: break;
        }
        if (rep) {
            size_t n = strlen(rep);
            memcpy(out + o, rep, n);
            o += n;
        } else {
            out[o++] = *in;
        }
    }
    out[o] = 0;
}

static void respond_index(struct http_client *c)
{
    const struct media_catalog *m = c->view->media;
    size_t cap = 512 + m->count * 1400, len = 0;
    char *page = malloc(cap);
    if (!page) {
        client_close(c);
        return;
    }
    len += (size_t)snprintf(page + len, cap - len,
                            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                            "<title>rtsp-harness serve</title></head><body>\n"
                            "<h1>rtsp-harness serve: live view</h1>\n<ul>\n");
    for (size_t i = 0; i < m->count; i++) {
        char name[MEDIA_NAME_MAX * 6 + 1];
        html_escape(m->streams[i].name, name, sizeof name);
        len += (size_t)snprintf(page + len, cap - len,
                                "<li><a href=\"/%s\">%s</a> %ux%u, %u frames, %g fps<br>"
                                "<img src=\"/%s\" alt=\"%s\"></li>\n",
                                name, name, m->streams[i].width, m->streams[i].height,
                                m->streams[i].nframes, m->streams[i].fps, name, name);
    }
    len += (size_t)snprintf(page + len, cap - len, "</ul>\n</body></html>\n");
    respond_simple(c, "200 OK", "text/html; charset=utf-8", page);
    free(page);
}

static void on_frame_due(struct loop *l, struct loop_timer *t)
{
    struct http_client *c = (struct http_client *)((char *)t - offsetof(struct http_client, due));
    const struct media_stream *m = c->stream;
    const struct media_frame *f = &m->frames[c->frame % m->nframes];
    if (outbuf_pending(&c->out) > (size_t)HTTP_BACKLOG_FRAMES * m->max_jpeg) {
        c->skipped++;
    } else {
        char head[160];
        int n = snprintf(head, sizeof head,
                         "--" HTTP_BOUNDARY "\r\nContent-Type: image/jpeg\r\nContent-Length: %u\r\n\r\n",
                         f->jpeg_len);
        if (!client_write(c, head, (size_t)n) || !client_write(c, f->jpeg, f->jpeg_len) ||
            !client_write(c, "\r\n", 2)) {
            client_close(c);
            return;
        }
        if (!client_flush(c))
            return;
    }
    c->frame++;
    uint64_t due = c->start_ns + (uint64_t)((double)c->frame * 1e9 / m->fps);
    uint64_t now = loop_now_ns();
    if (due + 1000000000u < now) { /* fell far behind: restart the clock */
        c->start_ns = now;
        c->frame = 0;
        due = now;
    }
    loop_timer_start(l, t, due, on_frame_due);
}

static void handle_request(struct http_client *c)
{
    char method[16], path[1024];
    if (sscanf(c->req, "%15s %1023s", method, path) != 2) {
        respond_simple(c, "400 Bad Request", "text/plain", "bad request\n");
        return;
    }
    if (strcmp(method, "GET") != 0) {
        respond_simple(c, "405 Method Not Allowed", "text/plain", "only GET\n");
        return;
    }
    if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) {
        respond_index(c);
        return;
    }
    const char *name = path + 1;
    const struct media_stream *m = media_find(c->view->media, name, strlen(name));
    if (!m) {
        respond_simple(c, "404 Not Found", "text/plain", "no such stream\n");
        return;
    }
    static const char head[] = "HTTP/1.0 200 OK\r\n"
                               "Content-Type: multipart/x-mixed-replace;boundary=" HTTP_BOUNDARY "\r\n"
                               "Cache-Control: no-cache\r\nConnection: close\r\n\r\n";
    if (!client_write(c, head, sizeof head - 1)) {
        client_close(c);
        return;
    }
    c->stream = m;
    c->frame = 0;
    c->start_ns = loop_now_ns();
    loop_timer_start(c->view->loop, &c->due, c->start_ns, on_frame_due);
}

static void on_client_io(struct loop *l, struct loop_io *io, uint32_t events)
{
    (void)l;
    struct http_client *c = (struct http_client *)((char *)io - offsetof(struct http_client, io));
    if ((events & EPOLLOUT) && !client_flush(c))
        return;
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    for (;;) {
        char sink[4096];
        bool reading = !c->stream && !c->close_when_sent;
        char *dst = reading ? c->req + c->req_len : sink;
        size_t room = reading ? sizeof c->req - 1 - c->req_len : sizeof sink;
        if (reading && room == 0) {
            respond_simple(c, "431 Request Header Fields Too Large", "text/plain", "too large\n");
            return;
        }
        ssize_t n = recv(io->fd, dst, room, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            client_close(c);
            return;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        if (!reading)
            continue;
        c->req_len += (size_t)n;
        c->req[c->req_len] = 0;
        if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n")) {
            handle_request(c);
            return;
        }
    }
}

static void on_listen(struct loop *l, struct loop_io *io, uint32_t events)
{
    (void)events;
    struct http_view *v = (struct http_view *)((char *)io - offsetof(struct http_view, listen_io));
    for (;;) {
        int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if (v->nclients >= v->max_clients) {
            static const char busy[] = "HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
            send(fd, busy, sizeof busy - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
            close(fd);
            continue;
        }
        struct http_client *c = calloc(1, sizeof *c);
        if (!c || loop_add(l, &c->io, fd, EPOLLIN, on_client_io) < 0) {
            free(c);
            close(fd);
            continue;
        }
        c->view = v;
        c->next = v->clients;
        if (v->clients)
            v->clients->prev = c;
        v->clients = c;
        v->nclients++;
    }
}

struct http_view *http_view_start(struct loop *l, const struct media_catalog *c,
                                  const char *addr, uint16_t port, unsigned max_clients,
                                  uint16_t *bound_port, char *err, size_t err_cap)
{
    struct http_view *v = calloc(1, sizeof *v);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    socklen_t alen = sizeof a;
    int one = 1;
    if (!v || fd < 0 || inet_pton(AF_INET, addr, &a.sin_addr) != 1 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 128) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) < 0 ||
        loop_add(l, &v->listen_io, fd, EPOLLIN, on_listen) < 0) {
        snprintf(err, err_cap, "%s:%u: %s", addr, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        free(v);
        return NULL;
    }
    v->loop = l;
    v->media = c;
    v->max_clients = max_clients;
    *bound_port = ntohs(a.sin_port);
    return v;
}

void http_view_stop(struct http_view *v)
{
    if (!v)
        return;
    while (v->clients)
        client_close(v->clients);
    loop_del(v->loop, &v->listen_io);
    close(v->listen_io.fd);
    free(v);
}
