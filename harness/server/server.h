/* The reference server (`rtsp-harness serve`): configuration and entry
 * point. server.c runs the RTSP side on one event loop (connections,
 * requests, sessions, RTCP, TCP interleaved pacing, timeouts) and hands
 * UDP pacing to the sender threads (sender.h); http.c adds the live view. */
#ifndef RTSP_HARNESS_SERVER_H
#define RTSP_HARNESS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"

enum server_dialect {
    SERVER_DIALECT_AUTO, /* decided per connection from its first request */
    SERVER_DIALECT_RFC,  /* RFC 2326 only: lab requests get 400 */
    SERVER_DIALECT_LAB,  /* every connection gets lab replies */
};

/* Everything `serve` takes from the command line. */
struct server_config {
    const char *media_dir;        /* directory of streams */
    const char *bind_addr;        /* IPv4 address to bind */
    uint16_t port;                /* RTSP port; 0 picks one */
    double fps;                   /* default frame rate */
    bool loop;                    /* loop streams */
    size_t mtu;                   /* largest IP packet */
    enum server_dialect dialect;  /* see above */
    bool auth_on;                 /* credentials required */
    const char *auth_user_pass;   /* "user:password" */
    enum auth_scheme auth_scheme; /* Basic or Digest */
    const char *realm;            /* challenge realm */
    unsigned session_timeout_s;   /* session reclaimed after this much silence */
    int http_port;                /* live view port; -1 off, 0 picks one */
    uint16_t rtp_port_lo;         /* server_port range, even start */
    uint16_t rtp_port_hi;         /* server_port range end */
    unsigned threads;             /* UDP sender threads */
    unsigned max_sessions;        /* sessions before 503 */
    unsigned max_connections;     /* connections before 503 */
    size_t max_request_bytes;     /* request size before 413 */
    unsigned idle_timeout_s;      /* idle connection close */
    bool verbose;                 /* a log line per request */
    bool no_gso;                  /* one datagram per RTP packet (captures on loopback) */
    unsigned faults;              /* SERVER_FAULT_* bits: deliberate bugs (testing the harness) */
};

/* Deliberate bugs, so the harness's own tests have a broken server whose
 * defects are known exactly (fixtures/broken-server). */
#define SERVER_FAULT_CSEQ 0x1            /* replies to PLAY carry the request's CSeq + 1 */
#define SERVER_FAULT_SESSION 0x2         /* a session gets a new id once its PLAY is answered */
#define SERVER_FAULT_RTP_AFTER_PAUSE 0x4 /* PAUSE is answered 200 but the stream goes on */

/* Run until SIGINT/SIGTERM. Returns the process exit status: 0 after a clean
 * shutdown, 1 when start-up fails (message on stderr). */
int server_run(const struct server_config *cfg);

#endif
