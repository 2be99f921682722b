/* The replay engine: runs a parsed scenario (scenario.h) against a system
 * under test. Server role: the harness is the RTSP client, connects to the
 * target, sends the `>` messages and matches the `<` expectations. Client
 * role: the harness is a scripted RTSP server, listens, matches what the
 * client under test sends against `<` and answers with `>`, and streams RTP
 * from fixture media when the script says so.
 *
 * The engine creates every socket in the calling thread's network
 * namespace: the run (harness/run) calls it from a thread that has entered
 * the peer namespace of the lab. Times it records are CLOCK_REALTIME
 * nanoseconds, the clock libpcap stamps captures with, so the run can find
 * a step's packets in the captures.
 *
 * The live engine fails fast on what it sees (a timeout, a wrong status, a
 * header that does not match, a CSeq not echoed); the verdict on RTP
 * metrics (`rtp for 3s: ...`) is evaluated afterwards from the capture by
 * the run, with the windows and conditions recorded here. */
#ifndef RTSP_HARNESS_REPLAY_H
#define RTSP_HARNESS_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dialect.h"
#include "scenario.h"

/* Where the system under test is, and what to call things. */
struct replay_target {
    const char *host;       /* server role: the SUT's address; client role: address to listen on */
    uint16_t port;          /* server role: the SUT's RTSP port; client role: port to listen on (0: any) */
    const char *media;      /* media name used in URLs and lab requests ("movie.Mjpeg") */
    const char *media_file; /* client role: the .Mjpeg fixture streamed on `rtp send` */
    const char *url;        /* server role: full URL when given (--target); NULL: rtsp://host:port/media */
    uint32_t seed;          /* run seed: session ids, SSRCs and initial sequence numbers of the scripted server */
    const struct dialect *dialect; /* server role, lab profile: the request dialect of every such
                                      scenario (`run --dialect`); NULL: the scenario's own, else the
                                      compiled-in lab dialect */
};

/* Callbacks into the run. Any may be NULL. */
struct replay_hooks {
    void *ctx;
    /* An `at T:` event is due (impairment phase or blackout). Return 0, or
     * -1 with err set: the engine records the failure and goes on. */
    int (*event)(void *ctx, const struct scenario_event *ev, char *err, size_t cap);
    /* Client role: the harness now listens at url; start the client under test. */
    int (*listening)(void *ctx, const char *url, char *err, size_t cap);
    /* Is the system under test still running? 0 yes; 1 no; 2 the scenario
     * must stop (its time is up, the run was interrupted). why is set to a
     * whole clause ("the system under test exited with status 1", "the
     * scenario ran past its 120 s limit"). 1 or 2: a step that waits on the
     * SUT fails at once instead of timing out, and a `wait` or `rtp for`
     * ends; 2: the step running fails and no other step runs, with
     * `scenario.stopped` (not the SUT's doing), where 1 gives
     * `scenario.sut-exited`. */
    int (*sut_gone)(void *ctx, char *why, size_t cap);
    /* CPU time used so far by every process of the system under test, in
     * ns. 0, or -1 when it cannot be measured (`expect cpu` then fails). */
    int (*sut_cpu_ns)(void *ctx, uint64_t *ns);
};

enum replay_verdict {
    REPLAY_PASS = 0,
    REPLAY_FAIL,   /* an expectation did not hold */
    REPLAY_ERROR,  /* the harness could not run the scenario (bind failed, ...) */
};

/* One failed expectation or event. */
struct replay_failure {
    char check[48];        /* check id: analyzer ids where they fit (rtsp.cseq.echo,
                              rtsp.session.changed, rtsp.session.missing), else
                              scenario.status, scenario.header, scenario.absent,
                              scenario.sdp, scenario.body, scenario.timeout,
                              scenario.closed, scenario.connect, scenario.request
                              (client role: the client's request did not match),
                              scenario.event, scenario.sut-exited; also rtsp.cseq.missing,
                              rtsp.cseq.increase, rtsp.syntax, scenario.silence,
                              scenario.auth, scenario.variable, scenario.send,
                              scenario.rtp (docs/scenarios.md lists them all) */
    unsigned line;         /* scenario line of the failed expectation */
    unsigned column;       /* its column (1-based), 0 when the whole line */
    int64_t time_ns;       /* when it was detected */
    int exchange;          /* index into replay_result.exchanges, -1 none */
    char message[320];     /* expected vs got: "expected CSeq 3, got 4" */
};

/* One RTSP message sent or received, and its reply. */
struct replay_exchange {
    unsigned line;          /* scenario line of the `>` (server role) or `<` (client role) block */
    int conn;               /* connection index (0 first) */
    char local[64];         /* "ip:port" of the harness's end */
    char remote[64];        /* "ip:port" of the SUT's end */
    char method[24];        /* request method, "" for raw bytes */
    bool has_cseq;          /* the request carried a CSeq */
    uint32_t cseq;          /* its value */
    int64_t request_ns;     /* request sent (server role) or received (client role) */
    int64_t response_ns;    /* reply received or sent; 0 none */
    int status;             /* reply status; 0 none */
    char *request_text;     /* as sent/received, NUL-terminated (malloc) */
    char *response_text;    /* as received/sent, NULL none (malloc) */
    size_t request_len;     /* bytes in request_text (raw bytes may hold NULs) */
    size_t response_len;    /* bytes in response_text */
    char uri[256];          /* request URI ("" for raw bytes that do not parse) */
    char deviations[160];   /* what the lenient parser forgave in the received message,
                               comma-separated ids of rtsp.h ("bare-lf,missing-reason") */
};

/* One `rtp for D: ...` window, for the run to evaluate from the capture. */
struct replay_rtp_window {
    unsigned line;                            /* scenario line */
    int64_t start_ns;                         /* window start (after any `after` grace) */
    int64_t end_ns;                           /* window end */
    uint16_t rtp_port;                        /* harness's UDP RTP port; 0 when interleaved */
    int channel;                              /* interleaved channel; -1 for UDP */
    char remote[64];                          /* SUT's RTSP "ip:port" (interleaved) */
    uint64_t live_packets;                    /* RTP packets the engine itself received in the window */
    uint64_t live_bytes;                      /* their bytes */
    const struct scenario_rtp_expect *expect; /* the conditions (points into the scenario) */
    int conn;                                 /* connection index whose stream it covers */
    bool harness_sends;                       /* client role: the window covers the stream the
                                                 harness sends (`rtp send`), not one it receives */
};

/* What became of one step of the scenario. */
enum replay_step_status {
    REPLAY_STEP_NOT_RUN = 0, /* the scenario stopped before it */
    REPLAY_STEP_PASS,
    REPLAY_STEP_FAIL,
    REPLAY_STEP_SKIPPED,     /* optional and did not match, or its exchange was skipped */
};

struct replay_step_result {
    enum replay_step_status status;
    int64_t start_ns;        /* when the step began; 0 not run */
    int64_t end_ns;          /* when it ended */
    int first_failure;       /* index into replay_result.failures of its first failure, -1 none */
    int n_failures;          /* failures it recorded */
};

struct replay_result {
    enum replay_verdict verdict;
    struct replay_step_result *steps;  /* one per scenario step, in order (NULL when out of memory) */
    size_t n_steps;
    int64_t start_ns;                  /* scenario start (t = 0 for `at` events) */
    int64_t end_ns;
    char error[320];                   /* REPLAY_ERROR: why */
    struct replay_failure *failures;   size_t n_failures;
    struct replay_exchange *exchanges; size_t n_exchanges;
    struct replay_rtp_window *windows; size_t n_windows;
    unsigned steps_run;                /* steps executed */
    unsigned steps_skipped;            /* optional steps that did not match, or steps after a stop */
    char session[128];                 /* last session id seen */
    char url[512];                     /* {url}: the target's URL, or the harness's own in client role */
    uint16_t listen_port;              /* client role: the port the harness listened on */
    unsigned events_fired;             /* `at` events delivered to hooks->event */
    uint64_t rtp_sent_packets;         /* client role: RTP packets `rtp send` wrote */
    char dialect[DIALECT_MAX_NAME];    /* server role, lab profile: the request dialect used, "" none */
};

/* Run the scenario. Returns 0 when it ran (the verdict says how it went),
 * -1 when it could not start (REPLAY_ERROR with error set). out is always
 * filled; free with replay_result_free. */
int replay_run(const struct scenario *sc, const struct replay_target *t, const struct replay_hooks *h,
               struct replay_result *out);
void replay_result_free(struct replay_result *r);

#endif
