/* `rtsp-harness run`: for each scenario, build a network lab (netlab.h),
 * start the system under test inside it, apply the impairment (netem
 * qdiscs or the userspace forwarder), capture both sides, replay the
 * scenario (replay.h), then analyze the captures and judge: the live
 * engine's failures, the `rtp for` windows evaluated from the capture, the
 * analyzer's checks on what the system under test sent, and the impairment
 * measured on the wire beside the one asked for. Writes
 * captures/<run>/<scenario>.{sut,peer}.pcap, the userspace decision log,
 * the SUT's output, and reports/<run>/report.json; prints a summary table.
 *
 * With a --target URL there is no lab: the scenario runs against an
 * existing server on loopback, without impairment, captured on lo. */
#ifndef RTSP_HARNESS_RUN_H
#define RTSP_HARNESS_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum run_backend {
    RUN_BACKEND_AUTO = 0,  /* netem where the kernel has it, userspace otherwise */
    RUN_BACKEND_NETEM,     /* kernel qdiscs; an error where sch_netem is missing */
    RUN_BACKEND_USERSPACE, /* the harness's own forwarder */
};

/* The bundled reference server, as the suites expect it (their session
 * timeout scenarios assume 3 s). */
#define RUN_REFERENCE_SERVER_CMD "{harness} serve --media {media_dir} --port {port} --session-timeout 3"

struct run_opts {
    const char *server_cmd;      /* server under test: shell command ({port} {media} {media_dir} {harness} {host}) */
    const char *client_cmd;      /* client under test: shell command ({url} {host} {port} {media}) */
    const char *target_url;      /* an existing server on loopback (no lab) */
    enum run_backend backend;    /* impairment backend */
    const char *impair;          /* netem text for scenarios without @impair; NULL none */
    uint32_t seed;               /* run seed: impairment seed unless the spec has one, session ids */
    const char *media_dir;       /* fixture media directory (absolute or relative to the cwd) */
    const char *media;           /* media name in URLs */
    uint16_t port;               /* the SUT's RTSP port inside the lab */
    const char *captures_dir;    /* where captures/<run>/ goes */
    const char *reports_dir;     /* where reports/<run>/ goes */
    uint64_t capture_budget;     /* bytes each pcap takes whole (capture.h); 0 no limit */
    const char *run_name;        /* <run>; NULL: a UTC timestamp */
    const char *dialect;         /* --dialect NAME|FILE: the request dialect of lab scenarios without @dialect */
    bool no_latest;              /* do not point captures/latest and reports/latest at this run */
    bool baseline;               /* --baseline reference: each server scenario also runs against the reference */
    const char *baseline_cmd;    /* --baseline-cmd: the reference's command; NULL RUN_REFERENCE_SERVER_CMD */
    unsigned scenario_timeout_s; /* wall clock per scenario */
    unsigned startup_timeout_s;  /* how long the server under test may take to listen */
    bool quiet;                  /* no progress lines, only the summary */
    int verbose;                 /* -v: replay details */
    int argc;                    /* the command line, for the report */
    char **argv;
};

/* Run every scenario file in paths (files, or directories searched for
 * *.rtsp in name order). Returns the process exit status: 0 all passed,
 * 1 some failed, 2 bad usage or unreadable scenarios, 3 the harness could
 * not run (no lab). */
int run_execute(const struct run_opts *o, char **paths, int n_paths);

#endif
