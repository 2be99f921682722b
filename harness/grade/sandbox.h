/* The submission sandbox: untrusted student servers run under bubblewrap
 * with a read-only view of the system directories, their own copy of the
 * submission read-write at /submission, a private /tmp, no capabilities,
 * as uid 65534 (nobody), with rlimits and per-submission cgroups that
 * bound processes and memory and count CPU time.
 *
 * The sandbox does not touch the network: it runs in whatever network
 * namespace it was started in (the lab's SUT namespace under
 * `rtsp-harness run`).
 *
 * Cgroups live under the caller's own cgroup in each hierarchy, in a
 * parent named rtsp-harness: <mount>/<caller's path>/rtsp-harness/NAME.
 * So they stay inside whatever limit the grader itself runs under, and the
 * grader (or `sandbox --cleanup`) must run in the same cgroups as the
 * sandboxes it started, which it does when it starts them. cgroup v1
 * (pids, memory, cpuacct, freezer mounted under /sys/fs/cgroup) and
 * cgroup v2 (/sys/fs/cgroup itself, with the pids, memory and cpu
 * controllers available) are supported. */
#ifndef RTSP_HARNESS_SANDBOX_H
#define RTSP_HARNESS_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The unprivileged identity the sandboxed command runs as, inside and out. */
#define SANDBOX_UID 65534
#define SANDBOX_GID 65534

/* Where the submission's copy appears inside the sandbox. */
#define SANDBOX_DIR "/submission"

/* Limits; 0 leaves one unset (inherited, or no cgroup limit). The rlimits
 * only ever lower what the caller set. */
struct sandbox_limits {
    uint64_t cpu_seconds;   /* RLIMIT_CPU of every process (SIGXCPU, then SIGKILL 1 s later) */
    uint64_t file_bytes;    /* RLIMIT_FSIZE: the largest file it may write */
    uint64_t open_files;    /* RLIMIT_NOFILE */
    uint64_t memory_bytes;  /* cgroup memory limit (the OOM killer acts inside it) */
    uint64_t pids;          /* cgroup pids.max: processes and threads together */
    uint64_t tmp_bytes;     /* size of the private /tmp (tmpfs) */
};

/* The defaults: cpu=300 fsize=64M nofile=256 mem=1G pids=128 tmp=64M.
 * A Java Swing server under Xvfb needs about 60 threads and 300 MB. */
void sandbox_limits_default(struct sandbox_limits *l);

/* Parse "cpu=60,fsize=64M,nofile=256,mem=512M,pids=64,tmp=32M" over l
 * (keys not named keep their value; K, M, G are powers of 1024; 0 unsets).
 * Returns 0, or -1 with err naming the item. */
int sandbox_limits_parse(const char *spec, struct sandbox_limits *l, char *err, size_t cap);

/* A cgroup name: 1 to 64 of [A-Za-z0-9._-], not "." or "..". */
bool sandbox_cgroup_name_ok(const char *name);

/* Create NAME in every hierarchy (or reuse it) and set its limits
 * (pids.max, the memory limit). Fails, saying what is missing, when a
 * needed controller is not available. */
int sandbox_cgroup_create(const char *name, const struct sandbox_limits *l, char *err, size_t cap);

/* Move the calling process into NAME's cgroups. */
int sandbox_cgroup_join(const char *name, char *err, size_t cap);

/* CPU time used by everything that ran in NAME (user + system), in ns. */
int sandbox_cgroup_cpu_ns(const char *name, uint64_t *ns);

/* Processes and threads in NAME now (pids.current). */
int sandbox_cgroup_pids(const char *name, uint64_t *count);

/* Kill every process in NAME (frozen first on v1, cgroup.kill on v2, so a
 * fork bomb cannot outrun the kill), then remove its directories. A name
 * that does not exist is not an error. */
int sandbox_cgroup_destroy(const char *name, char *err, size_t cap);

/* Destroy every cgroup under the rtsp-harness parent whose name starts
 * with prefix ("" or NULL: all) and for which in_use (when given) says
 * false: the leftovers of graders that were killed, not the cgroups of a
 * grader still running beside this one. *removed counts them. */
int sandbox_cgroup_sweep_stale(const char *prefix, bool (*in_use)(const char *name), unsigned *removed, char *err,
                               size_t cap);

struct sandbox_opts {
    const char *dir;        /* the submission's copy; owned by SANDBOX_UID */
    const char *cgroup;     /* join this cgroup (created if missing); NULL: none */
    bool xvfb;              /* run the command under xvfb-run -a */
    struct sandbox_limits limits;
};

/* Become the sandbox: join the cgroup, set the rlimits, drop to
 * SANDBOX_UID and exec bubblewrap with argv inside. Needs root. Returns
 * only on failure, -1 with err; the command's exit status becomes the
 * process's. */
int sandbox_exec(const struct sandbox_opts *o, char *const argv[], char *err, size_t cap);

/* Run argv in the sandbox as a child with stdout and stderr into one
 * buffer (NUL-terminated, truncated to cap_out - 1 bytes, the rest
 * drained), killed after timeout_ms. Returns the exit status (128+N for
 * signal N), or -1 with err (also when it timed out: *timed_out set). */
int sandbox_run(const struct sandbox_opts *o, char *const argv[], unsigned timeout_ms, char *out,
                size_t cap_out, bool *timed_out, char *err, size_t cap);

#endif
