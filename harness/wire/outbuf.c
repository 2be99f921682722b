/* Queued output for non-blocking sockets: see outbuf.h. */
#include "outbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

bool outbuf_append(struct outbuf *b, const void *p, size_t n, size_t limit)
{
    if (b->off == b->len)
        b->off = b->len = 0;
    if (outbuf_pending(b) + n > limit)
        return false;
    if (b->len + n > b->cap && b->off > 0) {
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        char *bigger = realloc(b->data, cap);
        if (!bigger)
            return false;
        b->data = bigger;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return true;
}

int outbuf_send(struct outbuf *b, int fd)
{
    while (b->off < b->len) {
        ssize_t n = send(fd, b->data + b->off, b->len - b->off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -1;
        }
        b->off += (size_t)n;
    }
    b->off = b->len = 0;
    return 1;
}

void outbuf_free(struct outbuf *b)
{
    free(b->data);
    *b = (struct outbuf){0};
}
