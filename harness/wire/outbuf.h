/* Bytes queued for a non-blocking stream socket: what a program has written
 * and the peer has not taken yet (the reference server's RTSP connections
 * and HTTP live view, the replay engine's RTSP connections). */
#ifndef RTSP_HARNESS_OUTBUF_H
#define RTSP_HARNESS_OUTBUF_H

#include <stdbool.h>
#include <stddef.h>

/* A growable buffer; zero-initialised is empty. */
struct outbuf {
    char *data; /* allocated bytes */
    size_t off; /* first unsent byte */
    size_t len; /* end of the queued bytes */
    size_t cap; /* allocated */
};

/* Queue n bytes. false (nothing queued) when the unsent bytes would pass
 * limit, or when memory runs out. */
bool outbuf_append(struct outbuf *b, const void *p, size_t n, size_t limit);
/* Send what the socket takes now (it blocks only if fd is a blocking socket,
 * as at shutdown). Returns 1 when nothing is left, 0 when
 * bytes remain (wait for EPOLLOUT), -1 on a socket error (errno set). */
int outbuf_send(struct outbuf *b, int fd);
/* Unsent bytes. */
static inline size_t outbuf_pending(const struct outbuf *b) { return b->len - b->off; }
void outbuf_free(struct outbuf *b);

#endif
