/* The system under test's processes. A command line runs through /bin/sh
 * inside the lab's SUT namespace, as process 2 of a fresh PID namespace
 * whose process 1 is a small reaper of ours; its stdout and stderr go to
 * files for the report, with resource limits set before exec.
 *
 * Why a PID namespace: when its process 1 exits, the kernel kills every
 * process left in it, so a server that forks children, daemonizes or
 * ignores SIGTERM still cannot outlive its scenario. Process 1 asks the
 * kernel for SIGKILL when the harness dies (PR_SET_PDEATHSIG), so even a
 * harness killed with SIGKILL leaves no process behind. */
#ifndef RTSP_HARNESS_SUT_H
#define RTSP_HARNESS_SUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Resource limits; 0 leaves a limit as inherited. */
struct sut_limits {
    uint64_t cpu_seconds;     /* RLIMIT_CPU */
    uint64_t address_bytes;   /* RLIMIT_AS */
    uint64_t file_bytes;      /* RLIMIT_FSIZE: largest file it may write */
    uint64_t open_files;      /* RLIMIT_NOFILE */
    uint64_t processes;       /* RLIMIT_NPROC (not enforced for root) */
};

struct sut_opts {
    int ns_fd;                /* network namespace to run in; -1: the caller's */
    const char *command;      /* shell command line, placeholders already replaced */
    const char *cwd;          /* working directory; NULL: the caller's */
    const char *stdout_path;  /* file for its stdout (created, truncated) */
    const char *stderr_path;  /* file for its stderr */
    const char *run_id;       /* exported as RTSP_HARNESS_RUN to find strays of a killed run */
    struct sut_limits limits;
};

/* How it ended. */
struct sut_exit {
    bool exited;              /* it ended by itself before the stop */
    int status;               /* exit status when it exited normally, else -1 */
    int signal;               /* signal that ended it, else 0 */
    bool killed;              /* the stop had to use SIGKILL */
    char text[96];            /* "exited with status 1", "killed by signal 11 (Segmentation fault)" */
};

struct sut;

/* Start it. Returns 0, or -1 with err. */
int sut_start(const struct sut_opts *o, struct sut **out, char *err, size_t cap);

/* Non-blocking: 0 still running, 1 it has ended (ex filled). */
int sut_poll(struct sut *s, struct sut_exit *ex);

/* End it: SIGTERM to its process group, then after grace_ms SIGKILL to the
 * whole PID namespace; waits; fills ex; frees. */
void sut_stop(struct sut *s, unsigned grace_ms, struct sut_exit *ex);

/* Process id (in the harness's PID namespace) of the reaper, for tests. */
pid_t sut_pid(const struct sut *s);

#endif
