/* What the in-process server targets (fuzz_serve.c, fuzz_http.c) share: a
 * network namespace of their own, a small generated stream, and a client
 * that feeds one connection's bytes to a server while the server's own
 * event loop runs, until both sides have closed. */
#ifndef RTSP_HARNESS_FUZZ_NET_H
#define RTSP_HARNESS_FUZZ_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/loop.h"
#include "server/media.h"

/* Move the process into a network namespace of its own (as root, or
 * through a user namespace) with its loopback up, so listeners, session
 * UDP ports and the RTP sent to fuzzed client ports never meet the host's
 * other processes. Returns the address UDP sessions bind: 127.0.0.1 in the
 * namespace; without one, 192.0.2.1 (RFC 5737, on no interface), so UDP
 * sessions are refused instead of sending to the host's ports. Listeners
 * use 127.0.0.1 either way. Call once, before any thread starts. */
const char *fuzz_private_network(void);

/* A catalogue with one stream, "fuzz.Mjpeg" (3 frames, 32x24), written to
 * a temporary directory and loaded the way `serve` loads media; aborts
 * when that fails. */
void fuzz_media(struct media_catalog *c, size_t max_payload);

/* Feed data to the server listening on 127.0.0.1:port over one connection
 * (then shut the sending side), reading and dropping its replies, and run
 * l until the server closed the connection and idle(ctx) holds. The
 * caller's after-batch work, if any, goes in after(l, ctx), called first
 * after every batch. */
void fuzz_drive(struct loop *l, uint16_t port, const uint8_t *data, size_t len,
                void (*after)(struct loop *l, void *ctx), bool (*idle)(void *ctx), void *ctx);

/* Split an input into connections at each FUZZ_CONN_SEPARATOR: returns
 * the number of pieces (at most max) with their bounds in starts/lens;
 * bytes after the last allowed separator stay in the last piece. */
#define FUZZ_CONN_SEPARATOR "\n@@next-connection@@\n"
size_t fuzz_split_connections(const uint8_t *data, size_t size, const uint8_t **starts, size_t *lens,
                              size_t max);

#endif
